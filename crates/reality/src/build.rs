//! Building HAProxy from sources (`make TARGET=linux-glibc`, no OpenSSL, Lua or PCRE:
//! the reproducer needs none), cached by commit under `<cache>/<commit>/haproxy`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The commit a tarball names: `haproxy-<commit>.tar.gz` → `<commit>`.
pub fn tarball_commit(tgz: &Path) -> Result<String, String> {
    let name = tgz
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("--tarball: {} has no file name", tgz.display()))?;
    let stem = name
        .strip_suffix(".tar.gz")
        .or_else(|| name.strip_suffix(".tgz"))
        .ok_or_else(|| {
            format!(
                "--tarball: expected a .tar.gz or .tgz file, got {}",
                tgz.display()
            )
        })?;
    let commit = stem.strip_prefix("haproxy-").unwrap_or(stem);
    if commit.is_empty()
        || !commit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!(
            "--tarball: expected a name like haproxy-<commit>.tar.gz, got {name}"
        ));
    }
    Ok(commit.to_string())
}

/// Extracts and builds a tarball once; later calls find the binary in the cache.
pub fn from_tarball(tgz: &Path, cache: &Path, jobs: u32) -> Result<PathBuf, String> {
    if !tgz.is_file() {
        return Err(format!("--tarball: {} not found", tgz.display()));
    }
    let commit = tarball_commit(tgz)?;
    let dir = cache.join(&commit);
    let bin = dir.join("haproxy");
    if bin.is_file() {
        return Ok(bin);
    }
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| format!("cannot create {}: {e}", src.display()))?;
    let st = Command::new("tar")
        .arg("xzf")
        .arg(tgz)
        .arg("-C")
        .arg(&src)
        .arg("--strip-components=1")
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !st.success() {
        return Err(format!(
            "--tarball: tar could not extract {}",
            tgz.display()
        ));
    }
    make(&src, &dir, jobs)?;
    install(&src.join("haproxy"), &bin)?;
    Ok(bin)
}

/// Builds a user's source tree (incrementally, in place) and caches the binary under
/// its commit (`git rev-parse --short=9 HEAD`, `-dirty` with local changes, rebuilt
/// every time).
pub fn from_tree(tree: &Path, cache: &Path, jobs: u32) -> Result<(String, PathBuf), String> {
    if !tree.join("Makefile").is_file() || !tree.join("src").is_dir() {
        return Err(format!(
            "--source: expected an HAProxy source tree (Makefile and src/), got {}",
            tree.display()
        ));
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(tree)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = match git(&["rev-parse", "--short=9", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        None => format!(
            "tree-{}",
            tree.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("haproxy")
        ),
    };
    let dir = cache.join(&commit);
    let bin = dir.join("haproxy");
    if bin.is_file() && !commit.ends_with("-dirty") && !commit.starts_with("tree-") {
        return Ok((commit, bin));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    make(tree, &dir, jobs)?;
    install(&tree.join("haproxy"), &bin)?;
    Ok((commit, bin))
}

/// `nice -n 10 make -j<jobs> TARGET=linux-glibc` in `src`, its output in `<dir>/build.log`.
fn make(src: &Path, dir: &Path, jobs: u32) -> Result<(), String> {
    let log_path = dir.join("build.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    eprintln!(
        "building HAProxy in {} (make -j{jobs} TARGET=linux-glibc; log: {})",
        src.display(),
        log_path.display()
    );
    let st = Command::new("nice")
        .args(["-n", "10", "make"])
        .arg(format!("-j{jobs}"))
        .arg("TARGET=linux-glibc")
        .current_dir(src)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run make: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!(
            "make TARGET=linux-glibc failed in {} (see {})",
            src.display(),
            log_path.display()
        ))
    }
}

fn install(built: &Path, bin: &Path) -> Result<(), String> {
    let tmp = bin.with_extension("tmp");
    std::fs::copy(built, &tmp).map_err(|e| format!("cannot copy {}: {e}", built.display()))?;
    std::fs::rename(&tmp, bin).map_err(|e| format!("cannot write {}: {e}", bin.display()))
}

/// `haproxy -v`'s first line.
pub fn version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("--haproxy: cannot run {}: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if !line.starts_with("HAProxy version") && !line.starts_with("HA-Proxy version") {
        return Err(format!(
            "--haproxy: {} does not answer -v like HAProxy",
            bin.display()
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarball_names_give_the_commit() {
        assert_eq!(
            tarball_commit(Path::new("/x/haproxy-8d68717a4.tar.gz")).unwrap(),
            "8d68717a4"
        );
        assert!(tarball_commit(Path::new("/x/haproxy.zip"))
            .unwrap_err()
            .starts_with("--tarball"));
        assert!(from_tarball(
            Path::new("/nonexistent/haproxy-x.tar.gz"),
            Path::new("/tmp"),
            1
        )
        .unwrap_err()
        .contains("not found"));
    }
}
