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
