//! A mutation fuzzer for the catalog parsers and decoder: every file of the example catalog and
//! of the fixtures, mutated at random (bytes and tokens deleted, repeated, swapped or inserted
//! from a dictionary of HCL and YAML syntax), is loaded in-process. Whatever the input, loading
//! must not panic, must either succeed or report problems, and every problem must point inside
//! the file it names and render as a diagnostic; a catalog that loads must also render and
//! pass through `check` without panicking.
//!
//! CI runs a bounded number of cases (`GLIDEPATH_FUZZ_CASES`, default 600) from a fixed seed;
//! run longer on demand with another seed:
//! `GLIDEPATH_FUZZ_CASES=200000 GLIDEPATH_FUZZ_SEED=$RANDOM cargo test --test fuzz -- --nocapture`.
//! A failing input is kept in `target/tmp/fuzz-failure.*` with the seed and case number.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use glidepath::catalog::{self, CatalogError};

/// Syntax worth inserting: the characters and tokens both parsers branch on, values at the
/// edges of what fields accept, and text that must be escaped wherever it lands.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "=",
    ":",
    ",",
    "\n",
    "  ",
    "\t",
    "#",
    "//",
    "/*",
    "*/",
    "- ",
    "&a ",
    "*a",
    "<<: *a",
    "---\n",
    "|\n  ",
    ">-\n  ",
    "${x}",
    "%{",
    "<<EOT\nx\nEOT\n",
    "'",
    "\\",
    "\\u0000",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    "é",
    "0",
    "-1",
    "1e309",
    "99999999999999999999",
    "0.5",
    "true",
    "null",
    "~",
    "\"\"",
    "\"5%\"",
    "\"150%\"",
    "\"600000h\"",
    "\"0s\"",
    "\"manual\"",
    "\"*\"",
    "service \"x\" {",
    "use = \"standard\"",
    "image_tag = \"latest\"",
    "replicas = 0",
    "environment \"dev\" {",
    "profile \"p\" {",
    "platform {",
    "canary {",
    "steps = [",
];

/// A small, seedable generator (xorshift64*): the harness needs reproducible cases, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The nearest char boundary at or below `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One edit of `text` in half the cases (so that many still load and reach render and check),
/// up to four in the others.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut out = text.to_string();
    let edits = if rng.below(2) == 0 { 1 } else { 1 + rng.below(4) };
    for _ in 0..edits {
        let a = boundary(&out, rng.below(out.len() + 1));
        let b = boundary(&out, a + rng.below(40));
        match rng.below(6) {
            0 => out.replace_range(a..b, ""),
            1 => {
                let piece = out[a..b].to_string();
                out.insert_str(b, &piece);
            }
            2 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                out.insert_str(a, token);
            }
            3 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                out.replace_range(a..b, token);
            }
            4 => {
                // Swap two lines: blocks and indentation end up in the wrong place.
                let mut lines: Vec<&str> = out.lines().collect();
                if lines.len() > 1 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(i, j);
                }
                out = lines.join("\n");
            }
            _ => out.truncate(a),
        }
    }
    out
}

/// A catalog to start from: its files, by name.
type Seed = Vec<(String, String)>;

/// The example catalog as a whole (a mutation of one of its files meets the others, so cases
/// reach references, profiles, render and check), and every fixture and module on its own.
fn seeds() -> Vec<Seed> {
    let files_in = |dir: &str| -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "yaml")))
            .map(|p| {
                let name = p.file_name().expect("file name").to_string_lossy().to_string();
                (name, std::fs::read_to_string(&p).unwrap_or_default())
            })
            .collect();
        files.sort();
        files
    };
    let mut seeds = vec![files_in("examples/shop")];
    for dir in ["modules", "tests/fixtures/valid", "tests/fixtures/invalid"] {
        seeds.extend(files_in(dir).into_iter().map(|file| vec![file]));
    }
    seeds
}

/// What is wrong with the outcome of loading `catalog`, whose file `file` was mutated, if anything.
fn judge(catalog: &Path, file: &Path) -> Result<&'static str, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let outcome = catch_unwind(AssertUnwindSafe(|| catalog::load(catalog)));
    match outcome {
        Err(panic) => Err(format!("loading panicked: {}", panic_text(&panic))),
        Ok(Ok(model)) => match catch_unwind(AssertUnwindSafe(|| {
            if let Ok(desired) = glidepath::render::render(&model) {
                let _ = glidepath::check::check(&model, &desired);
            }
        })) {
            Err(panic) => Err(format!("render or check panicked on a catalog that loads: {}", panic_text(&panic))),
            Ok(()) => Ok("loads"),
        },
        Ok(Err(CatalogError::Invalid(problems))) => {
            if problems.is_empty() {
                return Err("rejected without a problem".into());
            }
            let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
            for problem in &problems {
                let span = &problem.span;
                let source = &span.file.text;
                // Problems in the mutated file point inside it; built-in profiles carry their own text.
                if span.file.path == file && (span.end > text.len() || !text.is_char_boundary(span.start)) {
                    return Err(format!(
                        "{} points outside the file: {}..{}",
                        problem.one_line(),
                        span.start,
                        span.end
                    ));
                }
                if span.end > source.len() {
                    return Err(format!("{} points outside its source", problem.one_line()));
                }
                let mut rendered = String::new();
                let drawn = catch_unwind(AssertUnwindSafe(|| handler.render_report(&mut rendered, problem)));
                if !matches!(drawn, Ok(Ok(()))) {
                    return Err(format!("{} cannot be drawn as a diagnostic", problem.one_line()));
                }
            }
            Ok("rejected")
        }
        Ok(Err(other)) => Err(format!("unexpected error kind: {other}")),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

#[test]
fn mutated_catalogs_never_panic_and_every_problem_is_located() {
    let cases = env_number("GLIDEPATH_FUZZ_CASES", 600);
    let seed = env_number("GLIDEPATH_FUZZ_SEED", 0x5eed_c0de);
    let mut rng = Rng(seed | 1);
    let seeds = seeds();
    assert!(seeds.len() > 40, "few seeds: {}", seeds.len());
    // The harness checks the outcome itself; the default hook would print every caught panic.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut loaded, mut rejected) = (0, 0);
    let mut failure = None;
    for case in 0..cases {
        // The example catalog in half the cases, a single file in the others.
        let seed = if rng.below(2) == 0 { &seeds[0] } else { &seeds[rng.below(seeds.len())] };
        let target = rng.below(seed.len());
        let dir = tempfile::tempdir().expect("temp dir");
        for (i, (name, text)) in seed.iter().enumerate() {
            let text = if i == target { mutate(text, &mut rng) } else { text.clone() };
            std::fs::write(dir.path().join(name), text).expect("write case");
        }
        let (name, _) = &seed[target];
        let catalog = if seed.len() == 1 { dir.path().join(name) } else { dir.path().to_path_buf() };
        let started = std::time::Instant::now();
        let verdict = judge(&catalog, &dir.path().join(name));
        // Reported, not asserted (no timing in tests): a slow case is worth a look.
        if started.elapsed() > std::time::Duration::from_secs(5) {
            let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-slow-{case}-{name}"));
            let _ = std::fs::copy(dir.path().join(name), &keep);
            eprintln!("case {case}: {:.1?} ({name} mutated; kept in {})", started.elapsed(), keep.display());
        }
        match verdict {
            Ok("loads") => loaded += 1,
            Ok(_) => rejected += 1,
            Err(what) => {
                let mutated = std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
                failure = Some((case, name.clone(), mutated, what));
                break;
            }
        }
    }
    std::panic::set_hook(hook);
    if let Some((case, name, mutated, what)) = failure {
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-failure-{name}"));
        let _ = std::fs::write(&keep, &mutated);
        panic!("case {case} (seed {seed:#x}, {name} mutated): {what}\nthe mutated file is in {}", keep.display());
    }
    println!("{cases} mutated catalogs: {loaded} loaded, {rejected} rejected with located problems");
    assert!(rejected > 0, "no mutation was rejected: the mutator is not reaching the parsers");
}
