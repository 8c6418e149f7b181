//! The VMM's log: `vmm: `-prefixed lines on stderr.
//!
//! Without `-v` only the VMM's own warnings are shown; with `-v`, debug messages from the VMM
//! and its libraries too (setup details, unhandled guest accesses, virtqueue complaints).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    verbose: bool,
}

impl Log for StderrLogger {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        if self.verbose {
            meta.level() <= Level::Debug
        } else {
            meta.level() <= Level::Warn && meta.target().starts_with("vmm")
        }
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                Level::Error => "error: ",
                Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("vmm: {level}{}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls are ignored).
pub fn init(verbose: bool) {
    let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger { verbose }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(if verbose {
            LevelFilter::Debug
        } else {
            LevelFilter::Warn
        });
    }
}
