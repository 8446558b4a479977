//! The GitHub fake's answers parse as octocrab's models (neon-promote's GitHub client).

use neon_emulator::github::GhUser;
use neon_emulator::{Emulator, Options};
use octocrab::models::issues::Comment;
use octocrab::models::pulls::PullRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(emu: &Emulator, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", emu.port()))
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nauthorization: token t\r\nconnection: close\r\n\r\n",
        emu.port()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[tokio::test]
async fn comments_and_pulls_parse_as_octocrab_models() {
    let emu = Emulator::start(Options::default()).await;
    emu.with_state(|s| {
        s.github.add_pull("o/r", 5, "feature", "abc");
        s.github
            .add_comment("o/r", 5, GhUser::actions_bot(), "<!-- marker -->");
        s.github.add_comment("o/r", 5, GhUser::user("alice"), "hi");
        s.github.merge_pull("o/r", 5, "m1");
        s.github.pull_mut("o/r", 5).unwrap().head_repo = None; // a deleted fork
    });
    let comments: Vec<Comment> =
        serde_json::from_str(&get(&emu, "/github/repos/o/r/issues/5/comments").await).unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0].user.login, "github-actions[bot]");
    assert_eq!(comments[0].user.r#type, "Bot");
    let pull: PullRequest =
        serde_json::from_str(&get(&emu, "/github/repos/o/r/pulls/5").await).unwrap();
    assert_eq!(pull.number, 5);
    assert!(pull.merged_at.is_some());
    assert!(pull.head.repo.is_none());
    let pulls: Vec<PullRequest> =
        serde_json::from_str(&get(&emu, "/github/repos/o/r/commits/m1/pulls").await).unwrap();
    assert_eq!(pulls[0].base.ref_field, "main");
}
