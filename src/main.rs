fn main() -> std::process::ExitCode {
    glidepath::cli::run()
}
