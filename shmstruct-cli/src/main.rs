//! `shmstruct`: list, show, export and clean shmstruct segments from the
//! command line.
//!
//! Exit codes: 0 ok, 1 error (the library's message on stderr), 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod entry;
mod import;
mod json;
mod table;
mod watch;

/// Inspect and clean up shmstruct shared-memory segments.
#[derive(Parser)]
#[command(name = "shmstruct", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(clap::Args)]
struct Common {
    /// The directory of the segments (default: $SHMSTRUCT_DIR, or /dev/shm).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// One row per file in the directory: name, kind, type, size, owner,
    /// mode, creator pid, state and lock.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// A segment's header, layout and current values (read without its lock
    /// unless --lock).
    Show {
        /// The segment's name.
        name: String,
        /// Show every array element (default: at most 16).
        #[arg(long)]
        all: bool,
        /// Read the values under the lock that guards them, for a consistent
        /// view.
        #[arg(long)]
        lock: bool,
        /// Seconds to wait for the lock with --lock.
        #[arg(long, default_value_t = 5.0, requires = "lock")]
        timeout: f64,
        #[command(flatten)]
        common: Common,
    },
    /// Shows a segment's values again every interval, highlighting changes,
    /// until Ctrl-C or until the segment is unlinked.
    Watch {
        /// The segment's name.
        name: String,
        /// Milliseconds between reads.
        #[arg(long, default_value_t = 500)]
        interval: u64,
        /// Show every array element (default: at most 16).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        common: Common,
    },
    /// A segment's layout as Python ctypes classes, a C header, Rust or JSON.
    Layout {
        /// The segment's name (or use --from-file).
        #[arg(required_unless_present = "from_file")]
        name: Option<String>,
        /// Read the layout from this file instead of a segment: an encoded
        /// descriptor, or what `--format json` prints.
        #[arg(long, conflicts_with = "name")]
        from_file: Option<PathBuf>,
        /// The output format.
        #[arg(long, value_enum, default_value = "ctypes")]
        format: Format,
        #[command(flatten)]
        common: Common,
    },
    /// Removes segments; files that are not segments only with --force.
    Rm {
        /// The segments' names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Also remove files that are not shmstruct segments.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Removes the stale segments (creator gone) that you own.
    Gc {
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// The formats of `layout`.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Python `ctypes.Structure` classes.
    Ctypes,
    /// A C11 header with `_Static_assert`s.
    C,
    /// A `#[repr(C)] #[derive(SharedLayout)]` Rust struct.
    Rust,
    /// The descriptor as JSON.
    Json,
}

/// A failure, printed as `shmstruct: error: ...`.
type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("shmstruct: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn dir_of(common: &Common) -> PathBuf {
    common
        .dir
        .clone()
        .unwrap_or_else(shmstruct::segment::default_dir)
}

/// The layout in the file `path`: JSON as `layout --format json` prints it
/// if it parses as JSON, an encoded descriptor otherwise.
fn read_layout_file(path: &std::path::Path) -> Result<shmstruct::Layout, Failure> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return import::layout(&document)
            .map_err(|e| format!("{} holds no JSON layout: {e}", path.display()).into());
    }
    shmstruct::Layout::decode(&bytes)
        .map_err(|e| format!("{} holds no layout descriptor: {e}", path.display()).into())
}

fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::List { common } => {
            let entries = entry::list(&dir_of(&common))?;
            if common.json {
                let rows: Vec<_> = entries.iter().map(json::entry).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", table::entries(&entries, table::colour()));
            }
        }
        Command::Show {
            name,
            all,
            lock,
            timeout,
            common,
        } => {
            let timeout = std::time::Duration::try_from_secs_f64(timeout)
                .map_err(|_| format!("--timeout {timeout}: not a number of seconds"))?;
            let shown = entry::Shown::read(&dir_of(&common), &name, lock.then_some(timeout))?;
            let limit = if all { usize::MAX } else { 16 };
            if common.json {
                println!("{}", serde_json::to_string_pretty(&json::shown(&shown))?);
            } else {
                print!("{}", table::shown(&shown, limit));
            }
        }
        Command::Watch {
            name,
            interval,
            all,
            common,
        } => {
            let limit = if all { usize::MAX } else { 16 };
            watch::watch(
                &dir_of(&common),
                &name,
                std::time::Duration::from_millis(interval),
                limit,
            )?;
        }
        Command::Layout {
            name,
            from_file,
            format,
            common,
        } => {
            let layout = match (from_file, name) {
                (Some(path), _) => read_layout_file(&path)?,
                (None, Some(name)) => entry::open(&dir_of(&common), &name)?
                    .layout()
                    .cloned()
                    .ok_or("the segment is still initialising")?,
                (None, None) => unreachable!("clap requires a name or --from-file"),
            };
            match (format, common.json) {
                (Format::Json, _) | (_, true) => {
                    let document = json::layout_document(&layout);
                    println!("{}", serde_json::to_string_pretty(&document)?);
                }
                (Format::Ctypes, false) => print!("{}", layout.to_ctypes()),
                (Format::C, false) => print!("{}", layout.to_c_header()),
                (Format::Rust, false) => print!("{}", layout.to_rust()),
            }
        }
        Command::Rm {
            names,
            force,
            common,
        } => {
            let dir = dir_of(&common);
            let mut failed = false;
            for name in &names {
                if let Err(error) = entry::remove(&dir, name, force) {
                    eprintln!("shmstruct: error: {error}");
                    failed = true;
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Gc { dry_run, common } => {
            let dir = dir_of(&common);
            let removed = if dry_run {
                shmstruct::segment::list(&dir)?
                    .into_iter()
                    .filter(|info| info.is_stale() && info.is_own())
                    .map(|info| info.name().to_owned())
                    .collect()
            } else {
                shmstruct::segment::remove_stale(&dir)?
            };
            if common.json {
                println!("{}", serde_json::to_string_pretty(&removed)?);
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for name in &removed {
                    println!("{verb} {name}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
