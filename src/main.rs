// A fleet-size render allocates and frees millions of small maps and strings: with glibc's malloc
// that was a quarter of `check`'s CPU time at 3,000 services (perf). mimalloc's size classes and
// free lists serve that pattern far faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    glidepath::cli::run()
}
