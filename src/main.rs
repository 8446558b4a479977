//! neon-promote: inputs → config → context → `app::run` → exit code. Usage errors (exit 2) are
//! reported here, before any Neon call; everything after is `app`'s.

use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use neon_promote::config::{Config, UsageError};
use neon_promote::ctx::Ctx;
use neon_promote::event::{self, GitHubContext, Route};
use neon_promote::github::GitHub;
use neon_promote::neon::{Clock, NeonClient, NeonSettings};
use neon_promote::render::CommentInfo;
use neon_promote::runner::Runner;
use neon_promote::{app, cli, http};

fn main() -> ExitCode {
    let runner = Runner::from_env();
    let (raw, mode) = cli::parse();
    // Secrets are masked before anything else can be printed, even a usage error.
    for secret in [raw.api_key.as_ref(), raw.github_token.as_ref()]
        .into_iter()
        .flatten()
    {
        runner.add_mask(secret.expose());
    }
    let prepared = Config::from_raw(raw, mode)
        .map_err(UsageErrors)
        .and_then(|config| {
            let gh = GitHubContext::from_env().map_err(|e| UsageErrors(vec![e]))?;
            let route = event::route(&config, gh.as_ref()).map_err(|e| UsageErrors(vec![e]))?;
            Ok((config, gh, route))
        });
    let (config, gh, route) = match prepared {
        Ok(prepared) => prepared,
        Err(errors) => {
            runner.error("Invalid configuration", &errors.to_string());
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            runner.error("neon-promote failed", &format!("cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    ExitCode::from(rt.block_on(run(config, gh, route, runner)))
}

/// Several usage errors reported as the one `::error::` line of a failed run.
struct UsageErrors(Vec<UsageError>);

impl std::fmt::Display for UsageErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        f.write_str(&lines.join("; "))
    }
}

async fn run(config: Config, gh: Option<GitHubContext>, route: Route, runner: Runner) -> u8 {
    let cancel = CancellationToken::new();
    tokio::spawn(watch_signals(cancel.clone()));
    let info = CommentInfo::new(&config, gh.as_ref());
    let http = match http::client() {
        Ok(http) => http,
        Err(e) => {
            runner.error(
                "neon-promote failed",
                &format!("cannot set up HTTPS: {e:#}; nothing was changed"),
            );
            return 1;
        }
    };
    let ctx = context(http, config, gh, runner, cancel);
    app::run_cancellable(&ctx, &route, &info).await
}

fn context(
    http: reqwest::Client,
    config: Config,
    gh: Option<GitHubContext>,
    runner: Runner,
    cancel: CancellationToken,
) -> Ctx {
    let neon = NeonClient::new(
        http.clone(),
        NeonSettings {
            api_host: config.api_host.clone(),
            api_key: config.api_key.expose().to_string(),
            project_id: config.project_id.clone(),
            timeout: config.timeout,
            clock: Clock::system(),
            // Long operation waits say how they are doing, masked like every line.
            on_progress: Some(Arc::new(runner.info_printer())),
        },
    );
    // Without a token or a repository there is nobody to comment to; a bad token is a warning.
    let repository = config
        .repo
        .clone()
        .or_else(|| gh.as_ref().map(|g| g.repository.clone()));
    let api_url = gh
        .as_ref()
        .map_or("https://api.github.com", |g| g.api_url.as_str());
    let github = match (&config.github_token, repository) {
        (Some(token), Some(repository)) => {
            match GitHub::new(http, api_url, token.expose(), &repository) {
                Ok(github) => Some(github),
                Err(e) => {
                    runner.warning(&format!(
                        "GitHub client unavailable, comments are skipped: {e:#}"
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    Ctx::new(config, gh, neon, github, runner, cancel)
}

/// SIGINT then SIGTERM is how the runner cancels a container step: either one cancels the run.
async fn watch_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    cancel.cancel();
}
