use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

use clap::Parser;
use ostrack_cli::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    // A panic is a bug of ours: one error line naming the command and asking for a report,
    // exit code 2, instead of Rust's panic message and 101.
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error in `ostrack {command}`: {message}{location}. This is a bug; \
             please report it with this command line and the files it read."
        );
    }));
    match catch_unwind(AssertUnwindSafe(|| {
        // Test hook: the handler above is checked by making a command panic on purpose.
        if std::env::var_os("OSTRACK_TEST_PANIC").is_some() {
            panic!("OSTRACK_TEST_PANIC is set");
        }
        run(cli)
    })) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(2),
    }
}
