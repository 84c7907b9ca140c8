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
    from_tarball_patched(tgz, None, cache, jobs).map(|(_, bin)| bin)
}

/// The label of a tarball's build with a patch: `<commit>+<patch file stem>`.
pub fn patched_label(commit: &str, patch: &Path) -> Result<String, String> {
    let stem = patch
        .file_stem()
        .and_then(|n| n.to_str())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
        .ok_or_else(|| {
            format!(
                "--patch: expected a file name of letters, digits, '.', '_' or '-', got {}",
                patch.display()
            )
        })?;
    Ok(format!("{commit}+{stem}"))
}

/// Extracts a tarball, applies `patch` to it when given (`patch -p1`), and builds it
/// once, cached under `<cache>/<label>`. A patched build is reused only while the
/// patch is byte for byte the one it was built with (kept as `<label>/applied.patch`).
/// Returns the label (the commit, or `<commit>+<patch>`) and the binary.
pub fn from_tarball_patched(
    tgz: &Path,
    patch: Option<&Path>,
    cache: &Path,
    jobs: u32,
) -> Result<(String, PathBuf), String> {
    if !tgz.is_file() {
        return Err(format!("--tarball: {} not found", tgz.display()));
    }
    let commit = tarball_commit(tgz)?;
    let (label, patch_text) = match patch {
        None => (commit.clone(), None),
        Some(p) => {
            let text = std::fs::read(p)
                .map_err(|e| format!("--patch: cannot read {}: {e}", p.display()))?;
            (patched_label(&commit, p)?, Some(text))
        }
    };
    let dir = cache.join(&label);
    let bin = dir.join("haproxy");
    let applied = dir.join("applied.patch");
    let same_patch = match &patch_text {
        None => true,
        Some(text) => std::fs::read(&applied).is_ok_and(|old| &old == text),
    };
    if bin.is_file() && same_patch {
        return Ok((label, bin));
    }
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    let _ = std::fs::remove_file(&bin);
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
    if let (Some(p), Some(text)) = (patch, &patch_text) {
        apply_patch(p, &src)?;
        write_whole(&applied, text)?;
    }
    make(&src, &dir, jobs)?;
    install(&src.join("haproxy"), &bin)?;
    Ok((label, bin))
}

/// `patch -p1 --batch --forward` in `src`; a patch that does not apply is an error
/// naming the file (its rejects stay in the tree for the user to read).
fn apply_patch(patch: &Path, src: &Path) -> Result<(), String> {
    let out = Command::new("patch")
        .args(["-p1", "--batch", "--forward", "-i"])
        .arg(std::fs::canonicalize(patch).map_err(|e| format!("--patch: {e}"))?)
        .current_dir(src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("--patch: cannot run patch (Debian: apt-get install patch): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "--patch: {} does not apply to {}: {}",
            patch.display(),
            src.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
    fn a_patched_build_is_labelled_by_commit_and_patch() {
        assert_eq!(
            patched_label("ca275d99c", Path::new("patches/widen-ca275-gaps.patch")).unwrap(),
            "ca275d99c+widen-ca275-gaps"
        );
        assert!(patched_label("ca275d99c", Path::new("/x/bad name.patch"))
            .unwrap_err()
            .starts_with("--patch"));
        let err = from_tarball_patched(
            Path::new("/nonexistent/haproxy-x.tar.gz"),
            Some(Path::new("/nonexistent/p.patch")),
            Path::new("/tmp"),
            1,
        )
        .unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn a_patch_that_does_not_apply_is_an_error_naming_it() {
        let tmp = std::env::temp_dir().join(format!("lbq-build-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let tree = tmp.join("haproxy-abc123");
        std::fs::create_dir_all(tree.join("src")).unwrap();
        std::fs::write(tree.join("src/queue.c"), "int served;\n").unwrap();
        let tgz = tmp.join("haproxy-abc123.tar.gz");
        let st = Command::new("tar")
            .arg("czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&tmp)
            .arg("haproxy-abc123")
            .status()
            .unwrap();
        assert!(st.success());
        let patch = tmp.join("other.patch");
        std::fs::write(
            &patch,
            "--- a/src/queue.c\n+++ b/src/queue.c\n@@ -1 +1 @@\n-int totpend;\n+int queued;\n",
        )
        .unwrap();
        let cache = tmp.join("cache");
        let err = from_tarball_patched(&tgz, Some(&patch), &cache, 1).unwrap_err();
        assert!(
            err.starts_with("--patch:") && err.contains("does not apply"),
            "{err}"
        );
        assert!(!cache.join("abc123+other/haproxy").exists());
        assert!(!cache.join("abc123+other/applied.patch").exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

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
