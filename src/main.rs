use clap::Parser;
use tracing_subscriber::EnvFilter;
use weibing::cli::{Cli, LogFormat};

// mimalloc: glibc's malloc made every part of a tick slower as the heap grew
// (the publish 4.7 ms at 100k events, 10.9 ms at 10M); with mimalloc the
// tick is flat. Built with `no_thp`: mimalloc otherwise asks for
// transparent huge pages, and every span it returns and takes again is
// faulted back as 2 MiB the kernel zeroes, which doubled the ingest path's
// CPU an event (docs/decisions/0016-mimalloc-without-transparent-huge-pages.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    weibing::cli::run(cli).await
}
