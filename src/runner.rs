//! The GitHub Actions runner protocol, behind one struct: masks, annotations, groups, debug
//! lines, step outputs and the job summary. Outside Actions the same calls print plain,
//! readable text. It owns how things are written, not what: commands and `main` decide that.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The runner drops a summary over 1 MiB whole; ours stays far below.
const SUMMARY_LIMIT: usize = 512 * 1024;

/// Secrets shorter than this are masked by the runner but not redacted by us.
const MIN_REDACTED: usize = 6;

type Sink = Arc<Mutex<dyn Write + Send>>;

pub struct Runner {
    out: Sink,
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    /// Under Actions: workflow commands are understood, so masks and annotations are emitted.
    actions: bool,
    debug: bool,
    /// Shared with [`Runner::info_printer`]'s callbacks, so they redact masks added later.
    secrets: Arc<Mutex<Vec<String>>>,
    summary_written: Mutex<usize>,
    /// Every output set, in order: for in-process tests and the simulation.
    outputs: Mutex<Vec<(String, String)>>,
}

/// An open `::group::`, closed when dropped.
pub struct Group<'a>(&'a Runner);

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if self.0.actions {
            self.0.raw("::endgroup::");
        }
    }
}

impl Runner {
    /// Standard output, and the files the runner gives us through the environment.
    pub fn from_env() -> Runner {
        let file = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let output_file = file("GITHUB_OUTPUT");
        let actions =
            std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") || output_file.is_some();
        Runner::new(
            Arc::new(Mutex::new(std::io::stdout())),
            output_file,
            file("GITHUB_STEP_SUMMARY"),
            actions,
            std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1"),
        )
    }

    /// An in-memory runner (tests, the demo): everything printed lands in `sink`.
    pub fn for_test(
        sink: Arc<Mutex<Vec<u8>>>,
        output: Option<PathBuf>,
        summary: Option<PathBuf>,
    ) -> Runner {
        Runner::new(sink, output, summary, true, true)
    }

    fn new(
        out: Sink,
        output_file: Option<PathBuf>,
        summary_file: Option<PathBuf>,
        actions: bool,
        debug: bool,
    ) -> Runner {
        Runner {
            out,
            output_file,
            summary_file,
            actions,
            debug,
            secrets: Arc::default(),
            summary_written: Mutex::new(0),
            outputs: Mutex::default(),
        }
    }

    /// Masks a secret in the runner's log: the value, each of its lines, and its
    /// percent-encoded form (as it appears inside a URL). We also redact it ourselves from
    /// everything we print afterwards, so it is hidden outside Actions' log too.
    pub fn add_mask(&self, secret: &str) {
        let secret = secret.trim();
        if secret.is_empty() {
            return;
        }
        let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let mut forms: Vec<String> = vec![secret.to_string()];
        forms.extend(secret.lines().map(str::to_string));
        forms.push(encoded);
        forms.retain(|f| !f.trim().is_empty());
        forms.dedup();
        let mut secrets = self.secrets.lock().expect("secrets lock");
        for form in forms {
            if secrets.contains(&form) {
                continue;
            }
            if self.actions {
                self.raw(&format!("::add-mask::{}", escape_data(&form)));
            }
            secrets.push(form);
        }
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// A plain log line. Untrusted text can never start a workflow command.
    pub fn info(&self, line: &str) {
        print_info(&self.out, &self.secrets, line);
    }

    /// [`Runner::info`] as a callback that owns what it needs (the stream and the masks, also
    /// those added later), for a client that reports on its own while it waits.
    pub fn info_printer(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let (out, secrets) = (self.out.clone(), self.secrets.clone());
        move |line| print_info(&out, &secrets, line)
    }

    /// Shown only with step debug logging (`RUNNER_DEBUG=1`).
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.command("debug", "", msg);
        }
    }

    pub fn notice(&self, msg: &str) {
        self.command("notice", "", msg);
    }

    pub fn warning(&self, msg: &str) {
        self.command("warning", "", msg);
    }

    /// One `::error title=…::` line: the whole failure on a single annotation.
    pub fn error(&self, title: &str, msg: &str) {
        self.command("error", &format!(" title={}", escape_property(title)), msg);
    }

    /// `::group::` now, `::endgroup::` when the guard drops. Outside Actions: a heading.
    pub fn group(&self, title: &str) -> Group<'_> {
        let title = self.redact(title);
        if self.actions {
            self.raw(&format!("::group::{}", escape_data(&title)));
        } else {
            self.raw(&format!("== {title}"));
        }
        Group(self)
    }

    /// One line per Neon operation with its duration.
    pub fn step_line(&self, label: &str, duration: Duration, ok: bool) {
        let mark = if ok { "✓" } else { "✗" };
        self.info(&format!("{mark} {label} ({:.2} s)", duration.as_secs_f64()));
    }

    /// A step output: to `$GITHUB_OUTPUT` (a heredoc with a random delimiter when the value
    /// has a line break), or printed as `name: value` outside Actions.
    pub fn set_output(&self, name: &str, value: &str) -> std::io::Result<()> {
        self.outputs
            .lock()
            .expect("outputs lock")
            .push((name.to_string(), value.to_string()));
        let Some(path) = &self.output_file else {
            self.raw(&format!("{name}: {}", neutralise(value)));
            return Ok(());
        };
        let entry = if value.contains(['\n', '\r']) {
            let delimiter = delimiter(value);
            format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
        } else {
            format!("{name}={value}\n")
        };
        append(path, &entry)
    }

    /// The outputs set so far, in order (a later value of a name wins, as on the runner).
    pub fn outputs(&self) -> Vec<(String, String)> {
        self.outputs.lock().expect("outputs lock").clone()
    }

    /// Appends Markdown to the job summary (a no-op without `$GITHUB_STEP_SUMMARY`), redacted
    /// and cut short long before the runner's 1 MiB limit.
    pub fn append_summary(&self, markdown: &str) -> std::io::Result<()> {
        let Some(path) = &self.summary_file else {
            return Ok(());
        };
        let mut text = self.redact(markdown);
        let mut written = self.summary_written.lock().expect("summary lock");
        let room = SUMMARY_LIMIT.saturating_sub(*written);
        if text.len() > room {
            let mut cut = room.saturating_sub(80);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("\n\n_(summary truncated)_\n");
        }
        *written += text.len();
        append(path, &text)
    }

    /// Prints a block of untrusted text verbatim, with workflow commands switched off around
    /// it by a random token, so nothing inside can run as a command.
    pub fn untrusted_block(&self, text: &str) {
        let text = self.redact(text);
        if !self.actions {
            self.raw(&text);
            return;
        }
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        self.raw(&format!("::stop-commands::{token}"));
        self.raw(&text);
        self.raw(&format!("::{token}::"));
    }

    fn command(&self, name: &str, properties: &str, msg: &str) {
        let msg = self.redact(msg);
        if self.actions {
            self.raw(&format!("::{name}{properties}::{}", escape_data(&msg)));
        } else {
            for line in msg.lines() {
                self.raw(&format!("{name}: {}", neutralise(line)));
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        redact(&self.secrets, text)
    }

    fn raw(&self, line: &str) {
        write_line(&self.out, line);
    }
}

fn print_info(out: &Sink, secrets: &Mutex<Vec<String>>, line: &str) {
    for l in redact(secrets, line).lines() {
        write_line(out, &neutralise(l));
    }
}

fn redact(secrets: &Mutex<Vec<String>>, text: &str) -> String {
    let secrets = secrets.lock().expect("secrets lock");
    // A value this short would blot out ordinary words; the runner's own mask still hides it
    // in Actions' log.
    secrets
        .iter()
        .filter(|s| s.len() >= MIN_REDACTED)
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

fn write_line(out: &Sink, line: &str) {
    let mut out = out.lock().expect("stdout lock");
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Workflow-command data: `%`, CR and LF escaped, so a message stays one command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command properties (`title=`): also `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A plain line that cannot be read as a workflow command: `::` at its start (after any
/// indentation, which the runner trims) and the legacy
/// `##[` form anywhere are broken up with a zero-width joiner.
pub fn neutralise(line: &str) -> String {
    let line = line.replace("##[", "#\u{200d}#[");
    let body = line.trim_start();
    match body.strip_prefix("::") {
        Some(rest) => format!("{}:\u{200d}:{rest}", &line[..line.len() - body.len()]),
        None => line,
    }
}

/// A random heredoc delimiter that is not a line of `value`.
fn delimiter(value: &str) -> String {
    loop {
        let d = format!("ghadelimiter_{:016x}", fastrand::u64(..));
        if !value.lines().any(|l| l == d) {
            return d;
        }
    }
}

fn append(path: &PathBuf, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(actions: bool) -> (Runner, Arc<Mutex<Vec<u8>>>, tempfile::TempDir) {
        let sink = Arc::new(Mutex::new(Vec::new()));
        let dir = tempfile::tempdir().unwrap();
        let r = Runner::new(
            sink.clone(),
            actions.then(|| dir.path().join("out")),
            Some(dir.path().join("summary")),
            actions,
            true,
        );
        (r, sink, dir)
    }

    fn printed(sink: &Arc<Mutex<Vec<u8>>>) -> String {
        String::from_utf8(sink.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn masks_value_lines_and_url_form_then_redacts() {
        // The mask's data is escaped like any command data: the runner reads `%25` as `%`.
        let (r, sink, _d) = runner(true);
        r.add_mask("p@ss/w rd");
        r.info("postgres://u:p%40ss%2Fw%20rd@host/db and p@ss/w rd");
        assert_eq!(
            printed(&sink),
            "::add-mask::p@ss/w rd\n::add-mask::p%2540ss%252Fw%2520rd\npostgres://u:***@host/db and ***\n"
        );
    }

    #[test]
    fn multi_line_secret_masks_each_line() {
        let (r, sink, _d) = runner(true);
        r.add_mask("line1\nline2");
        let out = printed(&sink);
        assert!(
            out.starts_with("::add-mask::line1%0Aline2\n::add-mask::line1\n::add-mask::line2\n")
        );
    }

    #[test]
    fn annotations_escape_data_and_properties() {
        let (r, sink, _d) = runner(true);
        r.error("promote: failed, badly", "50% done\nnext line");
        assert_eq!(
            printed(&sink),
            "::error title=promote%3A failed%2C badly::50%25 done%0Anext line\n"
        );
    }

    #[test]
    fn untrusted_text_cannot_start_a_command() {
        let (r, sink, _d) = runner(true);
        r.info("::set-output name=x::y");
        r.info("ref ##[error]boom");
        r.info("  ::error::indented");
        let out = printed(&sink);
        assert!(out.contains("  :\u{200d}:error::indented"), "{out}");
        assert!(
            !out.lines().any(|l| l.trim_start().starts_with("::")),
            "{out}"
        );
        assert!(!out.contains("##["), "{out}");
    }

    #[test]
    fn the_info_printer_is_plain_and_redacts_masks_added_after_it() {
        let (r, sink, _d) = runner(true);
        let print = r.info_printer();
        r.add_mask("hunter22");
        print("still waiting: hunter22");
        print("::warning::not a command");
        let out = printed(&sink);
        assert_eq!(
            out,
            "::add-mask::hunter22\nstill waiting: ***\n:\u{200d}:warning::not a command\n"
        );
    }

    #[test]
    fn untrusted_block_is_fenced_by_a_random_token() {
        let (r, sink, _d) = runner(true);
        r.untrusted_block("::error::not really");
        let out = printed(&sink);
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert_eq!(token.len(), 32);
        assert_eq!(lines[2], format!("::{token}::"));
    }

    #[test]
    fn outputs_use_a_heredoc_only_for_multi_line_values() {
        let (r, _sink, d) = runner(true);
        r.set_output("branch_id", "br-1").unwrap();
        r.set_output("notes", "a\nb").unwrap();
        let text = std::fs::read_to_string(d.path().join("out")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "branch_id=br-1");
        let delim = lines[1].strip_prefix("notes<<").unwrap();
        assert_eq!(&lines[2..], ["a", "b", delim]);
    }

    #[test]
    fn outside_actions_outputs_are_readable_and_no_masks_are_printed() {
        let (r, sink, _d) = runner(false);
        r.add_mask("secret");
        r.set_output("password", "secret").unwrap();
        r.warning("careful");
        // Outside Actions the outputs are the point: a laptop user wants the connection string.
        assert_eq!(printed(&sink), "password: secret\nwarning: careful\n");
    }

    #[test]
    fn summary_is_redacted_and_capped() {
        let (r, _sink, d) = runner(true);
        r.add_mask("hunter2");
        r.append_summary("pw hunter2\n").unwrap();
        r.append_summary(&"x".repeat(SUMMARY_LIMIT * 2)).unwrap();
        let text = std::fs::read_to_string(d.path().join("summary")).unwrap();
        assert!(text.starts_with("pw ***\n"));
        assert!(text.len() <= SUMMARY_LIMIT);
        assert!(text.ends_with("_(summary truncated)_\n"));
    }

    #[test]
    fn groups_close_on_drop_and_steps_have_durations() {
        let (r, sink, _d) = runner(true);
        {
            let _g = r.group("Promote");
            r.step_line("Snapshot prod", Duration::from_millis(1234), true);
        }
        assert_eq!(
            printed(&sink),
            "::group::Promote\n✓ Snapshot prod (1.23 s)\n::endgroup::\n"
        );
    }
}
