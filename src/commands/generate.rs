//! Shell completions and the man page, generated from the clap definition by the
//! hidden `edgemark generate` command. `scripts/dist.sh` runs it on the build
//! host so every release tarball documents exactly the flags its binary has.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Write `edgemark.bash`, `_edgemark`, `edgemark.fish`, ... into `dir`; returns
/// the files written.
pub fn write_completions(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = Cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "edgemark", dir).map_err(|e| {
            anyhow::anyhow!("writing {shell} completions to {}: {e}", dir.display())
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Write `edgemark.1` and one page per visible subcommand (`edgemark-run.1`, ...);
/// returns the files written.
pub fn write_man(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .map_err(|e| anyhow::anyhow!("writing man pages to {}: {e}", dir.display()))?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("listing {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    written.sort();
    Ok(written)
}

/// `edgemark generate`: CLI definition -> shell completions or man pages
/// (for scripts/dist.sh).
pub fn command(args: &crate::cli::GenerateArgs) -> super::CommandResult {
    match args.what.as_str() {
        "man" => write_man(&args.out).map(drop),
        _ => write_completions(&args.out).map(drop),
    }
    .map_err(|e| super::CommandError::runtime(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("edgemark-gendoc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn completions_cover_the_subcommands() {
        let d = tmp("comp");
        let files = write_completions(&d).unwrap();
        assert_eq!(files.len(), 5);
        let bash = std::fs::read_to_string(d.join("edgemark.bash")).unwrap();
        for word in ["run", "stats", "boards", "--model"] {
            assert!(bash.contains(word), "bash completion lacks {word}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn man_pages_name_the_flags_and_skip_hidden_commands() {
        let d = tmp("man");
        let files = write_man(&d).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"edgemark.1".to_string()));
        assert!(names.contains(&"edgemark-run.1".to_string()));
        assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");
        let run = std::fs::read_to_string(d.join("edgemark-run.1")).unwrap();
        assert!(run.contains(".TH") && run.contains("model"), "{run}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
