#!/usr/bin/env python3
"""JSON schemas for kubeconform, made locally (kubeconform's default source is a download).

  kube-schemas.py builtin SWAGGER_JSON OUTDIR   one schema per kind of the Kubernetes OpenAPI (v2)
  kube-schemas.py crd OUTDIR CRD_FILE...         one schema per served version of each CRD
                                                 (YAML, or JSON: a list of documents)

Both write "standalone strict" schemas, as the kubernetes-json-schema project's openapi2jsonschema
does for kubeconform's default source: every $ref inlined, and `additionalProperties: false` on
every object that lists its properties (so a misspelt or misplaced field is an error). Two
Kubernetes formats are widened the way the apiserver reads them: `int-or-string` (IntOrString)
takes a string or an integer, and `Quantity` a string or a number.

File names follow kubeconform's schema-location templates:
  builtin: OUTDIR/{{ .ResourceKind }}{{ .KindSuffix }}.json   e.g. deployment-apps-v1.json
  crd:     OUTDIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json
"""
import copy
import json
import os
import sys

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def strict(schema):
    """additionalProperties: false wherever properties are listed and nothing else is allowed."""
    if isinstance(schema, list):
        for item in schema:
            strict(item)
        return
    if not isinstance(schema, dict):
        return
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    for key, value in schema.items():
        if key == "properties":
            for sub in value.values():
                strict(sub)
        elif isinstance(value, (dict, list)):
            strict(value)


def widen(schema):
    """The apiserver's lenient formats: int-or-string, and x-kubernetes-int-or-string in CRDs."""
    if isinstance(schema, list):
        return [widen(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: widen(v) if k != "enum" else v for k, v in schema.items()}
    if out.get("format") == "int-or-string" or out.get("x-kubernetes-int-or-string"):
        for key in ("type", "format"):
            out.pop(key, None)
        if "anyOf" not in out and "oneOf" not in out:
            out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    return out


def inline(definitions, schema, stack=()):
    if isinstance(schema, list):
        return [inline(definitions, s, stack) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):  # (a property may be named "$ref": JSONSchemaProps)
        name = ref.split("/")[-1]
        if name in stack:  # recursive types (JSONSchemaProps): accept anything below
            return {}
        if name == QUANTITY:
            return {"oneOf": [{"type": "string"}, {"type": "number"}]}
        target = copy.deepcopy(definitions[name])
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        target.update(extra)
        return inline(definitions, target, stack + (name,))
    return {k: inline(definitions, v, stack) for k, v in schema.items()}


def kind_file(kind, group, version):
    group_part = group.split(".")[0] if group else ""
    suffix = f"-{group_part}-{version}" if group_part else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def pin_identity(schema, group, version, kind):
    props = schema.setdefault("properties", {})
    api_version = f"{group}/{version}" if group else version
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind"})
    schema["$schema"] = "http://json-schema.org/schema#"


def builtin(swagger_path, outdir):
    definitions = json.load(open(swagger_path))["definitions"]
    os.makedirs(outdir, exist_ok=True)
    written = 0
    for name, definition in sorted(definitions.items()):
        gvks = definition.get("x-kubernetes-group-version-kind") or []
        # List kinds and the shared meta/v1 types (DeleteOptions, Status, WatchEvent …) are API
        # plumbing, not objects anyone applies.
        if len(gvks) != 1 or name.startswith("io.k8s.apimachinery.") or name.endswith("List"):
            continue
        gvk = gvks[0]
        schema = widen(inline(definitions, copy.deepcopy(definition), (name,)))
        pin_identity(schema, gvk["group"], gvk["version"], gvk["kind"])
        strict(schema)
        with open(os.path.join(outdir, kind_file(gvk["kind"], gvk["group"], gvk["version"])), "w") as f:
            json.dump(schema, f, separators=(",", ":"), sort_keys=True)
        written += 1
    print(f"wrote {written} schemas to {outdir}", file=sys.stderr)


def crd(outdir, paths):
    written = 0
    for path in paths:
        if path.endswith(".json"):  # a list of documents (the tests convert the YAML: no PyYAML)
            docs = json.load(open(path))
        else:
            import yaml  # PyYAML

            docs = yaml.load_all(open(path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for doc in docs:
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                schema = widen(copy.deepcopy(schema))
                pin_identity(schema, group, version["name"], kind)
                props = schema["properties"]
                props.setdefault("metadata", {"type": "object"})
                strict(schema)
                # metadata is validated by the apiserver's ObjectMeta, not the CRD: stay open.
                props["metadata"].pop("additionalProperties", None)
                target = os.path.join(outdir, group, f"{kind.lower()}_{version['name']}.json")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w") as f:
                    json.dump(schema, f, separators=(",", ":"), sort_keys=True)
                written += 1
    print(f"wrote {written} CRD schemas to {outdir}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "builtin":
        builtin(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "crd":
        crd(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
