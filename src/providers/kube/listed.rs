//! A list response read item by item: each object is handed on (and reduced, `Listed`) as soon
//! as it is parsed, so a list is never held whole as objects. kube's typed list
//! (`ObjectList<DynamicObject>`) held every item, each buffered once more by serde's flatten
//! while it was read: at fleet scale several times the response text, for the largest lists.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Calls `each` with every item of the list response `text`, in order; the first error `each`
/// returns ends the read.
pub fn each_item<E>(text: &str, each: impl FnMut(Value) -> Result<(), E>) -> Result<Result<(), E>, serde_json::Error> {
    let mut failed = None;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    ListSeed { each, failed: &mut failed }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(failed.map_or(Ok(()), Err))
}

struct ListSeed<'a, F, E> {
    each: F,
    failed: &'a mut Option<E>,
}

impl<'de, F: FnMut(Value) -> Result<(), E>, E> DeserializeSeed<'de> for ListSeed<'_, F, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Value) -> Result<(), E>, E> Visitor<'de> for ListSeed<'_, F, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes list")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "items" {
                map.next_value_seed(ItemsSeed { each: &mut self.each, failed: &mut *self.failed })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ItemsSeed<'a, F, E> {
    each: &'a mut F,
    failed: &'a mut Option<E>,
}

impl<'de, F: FnMut(Value) -> Result<(), E>, E> DeserializeSeed<'de> for ItemsSeed<'_, F, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Value) -> Result<(), E>, E> Visitor<'de> for ItemsSeed<'_, F, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the list's items")
    }

    /// `"items": null` is an empty list, as kube reads it.
    fn visit_unit<E2>(self) -> Result<(), E2> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while let Some(item) = items.next_element::<Value>()? {
            // After a failure the rest is parsed (the text must still be a list) and dropped.
            if self.failed.is_none() {
                if let Err(e) = (self.each)(item) {
                    *self.failed = Some(e);
                }
            }
        }
        Ok(())
    }
}

/// An object as a typed read (kube's `DynamicObject`) gives it as a `Value`: its type first
/// when it has one, then its metadata in `ObjectMeta`'s field order, then the rest in the
/// server's order, with the managed fields taken out (returned beside it; an empty list stands
/// in their place, so the keys are in the order `normalize` always left them in, as a removal
/// moves the last key into the removed one's place). What a plan compares and a state records
/// is what it was when objects were read typed.
pub fn as_typed(item: Value) -> Result<(Value, ObjectMeta, Vec<ManagedFieldsEntry>), serde_json::Error> {
    let Value::Object(fields) = item else {
        return Err(serde::de::Error::custom("a listed object is not a JSON object"));
    };
    // `DynamicObject`'s type is both strings or none (then they stay among the rest).
    let typed = ["apiVersion", "kind"].iter().all(|k| fields.get(*k).is_some_and(Value::is_string));
    let mut out = Map::with_capacity(fields.len());
    if typed {
        for key in ["apiVersion", "kind"] {
            out.insert(key.to_string(), fields[key].clone());
        }
    }
    out.insert("metadata".to_string(), Value::Null);
    let mut metadata = Value::Null;
    for (key, value) in fields {
        match key.as_str() {
            "metadata" => metadata = value,
            "apiVersion" | "kind" if typed => {}
            _ => {
                out.insert(key, value);
            }
        }
    }
    let mut meta: ObjectMeta =
        if metadata.is_null() { ObjectMeta::default() } else { serde_json::from_value(metadata)? };
    let entries = meta.managed_fields.replace(Vec::new()).unwrap_or_default();
    out["metadata"] = serde_json::to_value(&meta)?;
    meta.managed_fields = None;
    Ok((Value::Object(out), meta, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;
    use serde_json::json;

    #[test]
    fn items_are_handed_on_in_order_and_the_rest_is_skipped() {
        let text = r#"{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"9"},
            "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}},{"metadata":{"name":"c"}}]}"#;
        let mut names = Vec::new();
        let read = each_item(text, |item| {
            names.push(item["metadata"]["name"].as_str().unwrap().to_string());
            Ok::<(), String>(())
        });
        assert_eq!(read.unwrap(), Ok(()));
        assert_eq!(names, ["a", "b", "c"]);
        // The first failure is returned, and nothing after it is handed on.
        let mut seen = 0;
        let read = each_item(text, |item| {
            seen += 1;
            if item["metadata"]["name"] == "b" {
                Err("b")
            } else {
                Ok(())
            }
        });
        assert_eq!((read.unwrap(), seen), (Err("b"), 2));
        assert_eq!(each_item(r#"{"items":null}"#, |_| Err("none expected")).unwrap(), Ok(()));
        assert!(each_item(r#"{"items":[{}]"#, |_| Ok::<(), ()>(())).is_err());
    }

    /// The body, metadata and managed fields are exactly what a typed read made of them.
    #[test]
    fn an_item_reads_as_a_typed_read_gives_it() {
        let managed = json!([{"manager": "glidepath", "operation": "Apply", "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}, "time": "2026-12-01T10:00:00Z"}]);
        for item in [
            // A built-in kind's list item: no type; the server's metadata order.
            json!({"metadata": {"name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "3",
                    "labels": {"b": "2", "a": "1"}, "managedFields": managed.clone(),
                    "annotations": {"x": "y"}, "creationTimestamp": "2026-12-01T10:00:00Z"},
                   "data": {"z": "1", "a": "2"}, "immutable": false}),
            // A custom resource's: its type first.
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                   "metadata": {"name": "api", "generation": 4, "managedFields": managed.clone()},
                   "spec": {"replicas": 2}, "status": {"phase": "Healthy"}}),
        ] {
            let typed: DynamicObject = serde_json::from_value(item.clone()).unwrap();
            let mut placeholder = typed.clone();
            placeholder.metadata.managed_fields = Some(Vec::new());
            let expected = serde_json::to_value(&placeholder).unwrap();
            let (value, meta, entries) = as_typed(item).unwrap();
            assert_eq!(
                serde_json::to_string(&value).unwrap(),
                serde_json::to_string(&expected).unwrap(),
                "same keys in the same order"
            );
            assert_eq!(Some(entries), typed.metadata.managed_fields.clone());
            assert_eq!(meta, ObjectMeta { managed_fields: None, ..typed.metadata });
        }
    }
}
