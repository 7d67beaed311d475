use super::*;

fn fmt(text: &str) -> String {
    let once = format(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let twice = format(&once).unwrap();
    assert_eq!(once, twice, "fmt of fmt output changes nothing");
    once
}

#[test]
fn indents_blocks_and_aligns_runs() {
    let text = "platform {\nname=\"shop\"\n    region    =   \"eu-west-1\"   \n}\n";
    assert_eq!(fmt(text), "platform {\n  name   = \"shop\"\n  region = \"eu-west-1\"\n}\n");
}

#[test]
fn a_blank_line_or_a_comment_breaks_the_run() {
    let text = "a = 1\nlonger = 2\n\nx = 3\n# note\nlongest = 4\ny = 5\n";
    assert_eq!(fmt(text), "a      = 1\nlonger = 2\n\nx = 3\n# note\nlongest = 4\ny       = 5\n");
}

#[test]
fn comments_keep_their_place_and_text() {
    let text = "# head   \n\n\n\nservice \"a\" { # opens\n# before\n      port = 8080 # after   \n  // slashes\n    /* inline */ \n  nested {\n  # inside\n  x = 1\n  }\n # last\n}\n\n\n# tail\n\n";
    assert_eq!(
        fmt(text),
        "# head\n\nservice \"a\" { # opens\n  # before\n  port = 8080 # after\n  // slashes\n  /* inline */\n  nested {\n    # inside\n    x = 1\n  }\n  # last\n}\n\n# tail\n"
    );
}

#[test]
fn multi_line_comments_are_kept_byte_for_byte() {
    let text = "a {\n    /* one\n        two   \n   three */\n  b = 1\n}\n";
    assert_eq!(fmt(text), "a {\n  /* one\n        two   \n   three */\n  b = 1\n}\n");
}

#[test]
fn multi_line_values_move_with_their_attribute_and_break_the_run() {
    let text = "svc {\n    a = 1\n    list = [\n      \"x\",   \n      \"y\",\n    ]\n    obj = {\n        k = \"v\"\n    }\n    zz = 2\n}\n";
    assert_eq!(
        fmt(text),
        "svc {\n  a = 1\n  list = [\n    \"x\",\n    \"y\",\n  ]\n  obj = {\n      k = \"v\"\n  }\n  zz = 2\n}\n"
    );
}

#[test]
fn heredocs_are_untouched() {
    let text = "s {\n      script = <<EOT\n  keep   \n\n\n\tthis\nEOT\n    after = 1\n}\n";
    assert_eq!(fmt(text), "s {\n  script = <<EOT\n  keep   \n\n\n\tthis\nEOT\n  after = 1\n}\n");
    let indented = "s {\nx = <<-EOT\n    a\n    EOT\n}\n";
    assert_eq!(fmt(indented), "s {\n  x = <<-EOT\n    a\n    EOT\n}\n");
}

#[test]
fn one_line_blocks_nesting_unicode_and_no_final_newline() {
    let text = "a {\nb { c = 1 }\n    d {\n  e {\nnäme = \"ü\"\nx = \"日本\"\n}\n}\n}";
    assert_eq!(
        fmt(text),
        "a {\n  b { c = 1 }\n  d {\n    e {\n      näme = \"ü\"\n      x    = \"日本\"\n    }\n  }\n}\n"
    );
}

#[test]
fn tabs_crlf_and_empty_files() {
    assert_eq!(fmt("a {\r\n\tb\t=\t1\r\n}\r\n"), "a {\n  b = 1\n}\n");
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n\n"), "");
    assert_eq!(fmt("# only a comment"), "# only a comment\n");
}

#[test]
fn syntax_errors_are_errors() {
    assert!(matches!(format("a {\n  b = \n}\n"), Err(FormatError::Parse(_))));
}

#[test]
fn block_headers_get_one_space_between_their_parts() {
    let text = "service   \"a b\"\t{   # the service\n  nested{\n  x = 1\n  }\n}\n";
    assert_eq!(fmt(text), "service \"a b\" { # the service\n  nested {\n    x = 1\n  }\n}\n");
    // A comment inside the header is left where it is.
    let commented = "a /* c */ \"x\" {\n  y = 1\n}\n";
    assert_eq!(fmt(commented), commented);
}

#[test]
fn comments_that_look_like_code_and_code_that_holds_comments() {
    // `/*` after `#` does not open a comment; `=` with a comment before it is left as written.
    let text = "# not /* a block comment\na {\n      b = 1\n    c /* why */ = 2\n   list = [\n    # one\n      1, /* two */\n  ]\n}\n";
    assert_eq!(
        fmt(text),
        "# not /* a block comment\na {\n  b = 1\n  c /* why */ = 2\n  list = [\n    # one\n      1, /* two */\n  ]\n}\n"
    );
    // A heredoc inside a list keeps the whole value as written.
    let heredoc = "a {\n    x = [<<EOT\n   body  \nEOT\n    ]\n}\n";
    assert_eq!(fmt(heredoc), "a {\n  x = [<<EOT\n   body  \nEOT\n    ]\n}\n");
}
