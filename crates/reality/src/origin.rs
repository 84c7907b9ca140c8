//! The origin server: Debian's nginx on 127.0.0.1 with a generated configuration in the
//! run's own directory (no system file is read or written), answering 200 to every GET.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::procs::Guard;

/// nginx.conf for the origin (foreground, one worker, no access log).
pub fn nginx_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n\
         \x20 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         \x20 server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n"
    )
}

/// Starts nginx as "nginx" in `guard` and waits until it accepts connections.
pub fn start(guard: &mut Guard, nginx: &Path, dir: &Path, port: u16) -> Result<u32, String> {
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(dir, port))
        .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let pid = guard.spawn(
        "nginx",
        Command::new(nginx)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    if !crate::ports::wait_listening(port, std::time::Duration::from_secs(10)) {
        let log = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
        return Err(format!(
            "nginx did not listen on 127.0.0.1:{port} within 10 s: {}",
            log.lines().last().unwrap_or("(no error log)")
        ));
    }
    Ok(pid)
}
