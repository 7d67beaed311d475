//! `glidepath promote`: one reviewed line in the catalog moves an image to an environment.

use std::fs;
use std::path::Path;
use std::process::Command;

fn copy_example(to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir("examples/shop").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn glidepath(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_glidepath")).args(args).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn promote_copies_between_environments_and_pins_digests() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("shop");
    copy_example(&catalog);
    let c = catalog.to_str().unwrap();
    let before = fs::read_to_string(catalog.join("payments.hcl")).unwrap();

    let out = glidepath(&["promote", "payment-service", "--from", "staging", "--to", "prod", "-c", c]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("image_tag 2.13.2 → 2.14.0"));
    let model = glidepath::catalog::load(&catalog).unwrap();
    let payment = model.services.iter().find(|s| s.name == "payment-service").unwrap();
    assert_eq!(payment.per_env["prod"].image_tag, "2.14.0");
    let after = fs::read_to_string(catalog.join("payments.hcl")).unwrap();
    let changed: Vec<_> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "one line changes: {changed:?}");
    assert!(after.contains("# Money paths"), "comments survive");

    // CI promotes the digest it built: the Rollout then runs exactly that image.
    let digest = format!("sha256:{}", "ab".repeat(32));
    let image = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/cart@{digest}");
    let out = glidepath(&["promote", "cart", "--to", "prod", "--image", &image, "-c", c]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let model = glidepath::catalog::load(&catalog).unwrap();
    let desired = glidepath::render::render(&model).unwrap();
    let rollout = desired.resources[&"prod/cart/k8s/Rollout/cart".parse().unwrap()].body();
    assert_eq!(rollout["spec"]["template"]["spec"]["containers"][0]["image"], image);
    assert_eq!(rollout["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"], "sha256-abababababab");

    let wrong = glidepath(&["promote", "cart", "--to", "prod", "--image", "docker.io/library/cart@sha256:00", "-c", c]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("is not an image of cart's repository"));
    // YAML catalogs too: one line changes, comments stay (accounts.yaml declares user-service).
    let before = fs::read_to_string(catalog.join("accounts.yaml")).unwrap();
    let yaml = glidepath(&["promote", "user-service", "--from", "staging", "--to", "prod", "-c", c]);
    assert_eq!(yaml.status.code(), Some(0), "{}", String::from_utf8_lossy(&yaml.stderr));
    let after = fs::read_to_string(catalog.join("accounts.yaml")).unwrap();
    let changed: Vec<_> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(
        changed,
        [(
            r#"    image_tag: { default: "9.1.0", prod: "9.0.7" }"#,
            r#"    image_tag: { default: "9.1.0", prod: "9.1.0" }"#
        )]
    );
    assert!(after.contains("# Instead of the profile's min_available"), "comments survive");
    let model = glidepath::catalog::load(&catalog).unwrap();
    let user = model.services.iter().find(|s| s.name == "user-service").unwrap();
    assert_eq!(user.per_env["prod"].image_tag, "9.1.0");
    let invalid = glidepath(&["promote", "cart", "--to", "prod", "--tag", "latest", "-c", c]);
    assert_eq!(invalid.status.code(), Some(1), "an edit that breaks the catalog is undone");
    assert!(fs::read_to_string(catalog.join("storefront.hcl")).unwrap().contains(&digest));
}

/// `tests/fixtures/invalid/quarantined-image.hcl` (1.1.0 quarantined in prod, 1.0.9's entry
/// cleared) with the service back on 1.0.0, which nothing quarantines: a valid catalog.
fn quarantined_catalog() -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/quarantined-image.hcl");
    let text = fs::read_to_string(fixture).unwrap();
    let named = "image_tag = { dev = \"1.1.0\", prod = \"1.1.0\" }";
    assert!(text.contains(named), "the fixture names 1.1.0 in both environments");
    text.replace(named, "image_tag = { dev = \"1.0.0\", prod = \"1.0.0\" }")
}

/// The rules a GitOps rollback's quarantine entry enforces, with no cluster: promote refuses the
/// image where the entry holds, every command that renders refuses a catalog naming it there
/// (located), and clearing it takes a reason that stays in the catalog.
#[test]
fn a_quarantined_image_is_refused_until_cleared_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.hcl");
    let quarantined = quarantined_catalog();
    fs::write(&file, &quarantined).unwrap();
    let c = file.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };

    let refused = glidepath(&["promote", "api", "--to", "prod", "--tag", "1.1.0", "-c", c]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("1.1.0 of api is quarantined in prod: rolled back in prod"), "{}", text(&refused));
    assert!(text(&refused).contains("glidepath quarantine clear 1.1.0 --service api"), "{}", text(&refused));
    assert_eq!(fs::read_to_string(&file).unwrap(), quarantined, "nothing was edited");
    // The entry covers prod only.
    let dev = glidepath(&["promote", "api", "--to", "dev", "--tag", "1.1.0", "-c", c]);
    assert_eq!(dev.status.code(), Some(0), "{}", text(&dev));

    // Named by hand (or by a merge): render (what CI runs for Argo CD), check and validate refuse
    // the catalog at the line that names it.
    let by_hand = fs::read_to_string(&file).unwrap().replace("prod = \"1.0.0\"", "prod = \"1.1.0\"");
    // Where the value of `prod` starts (1-based line and column).
    let at = by_hand.find("prod = \"1.1.0\"").unwrap() + "prod = ".len();
    let line = by_hand[..at].lines().count();
    let column = at - by_hand[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    let located = format!("catalog.hcl:{line}:{column}");
    fs::write(&file, &by_hand).unwrap();
    for command in [vec!["render", "--out", out_dir], vec!["check"], vec!["validate"]] {
        let out = glidepath(&[command.as_slice(), &["-c", c]].concat());
        assert_eq!(out.status.code(), Some(1), "{command:?}: {}", text(&out));
        assert!(text(&out).contains("catalog::quarantined-image"), "{command:?}: {}", text(&out));
        assert!(text(&out).contains(&located), "{command:?} locates it at {located}: {}", text(&out));
    }
    assert!(!Path::new(out_dir).exists(), "nothing rendered");
    fs::write(&file, by_hand.replace("prod = \"1.1.0\"", "prod = \"1.0.0\"")).unwrap();

    let unreasoned = glidepath(&["quarantine", "clear", "1.1.0", "--service", "api", "--reason", "fixed", "-c", c]);
    assert_eq!(unreasoned.status.code(), Some(1), "{}", text(&unreasoned));
    let wrong = glidepath(&[
        "quarantine",
        "clear",
        "1.2.0",
        "--service",
        "api",
        "--reason",
        "no such entry exists here",
        "-c",
        c,
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    let reason = "the 500s came from the cache warm-up, fixed in config (INC-231)";
    let cleared = glidepath(&["quarantine", "clear", "1.1.0", "--service", "api", "--reason", reason, "-c", c]);
    assert_eq!(cleared.status.code(), Some(0), "{}", text(&cleared));
    let after = fs::read_to_string(&file).unwrap();
    assert!(after.contains(&format!("cleared = \"{reason}\"")), "{after}");
    assert!(
        after.contains("# A GitOps rollback quarantined") && after.contains("reason       = \"rolled back in prod"),
        "the record stays: {after}"
    );
    let listed = glidepath(&["quarantine", "list", "-c", c]);
    assert!(text(&listed).contains(&format!("api 1.1.0 cleared: {reason}")), "{}", text(&listed));
    let promoted = glidepath(&["promote", "api", "--to", "prod", "--tag", "1.1.0", "-c", c]);
    assert_eq!(promoted.status.code(), Some(0), "{}", text(&promoted));
}
