//! Invite codes: an admin issues one, a person (or the bot for them) redeems it without a
//! token and gets a user of their own with the invite's spend cap (by default the operator's);
//! a code works once, only before it expires, and never appears again.

use podwarden_server::api::ErrorCode;
use podwarden_test_utils::server as common;

use common::{client, server_with};

#[tokio::test]
async fn an_invite_creates_one_user_with_the_operators_default_cap() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.default_spend_cap_usd = Some(3.0)).await;
    let http = reqwest::Client::new();
    let admin = client(&http, &s.url, &s.token);
    let anyone = client(&http, &s.url, "");

    let inv = admin
        .create_invite(&podwarden_api::types::NewInvite {
            note: Some("for ann".into()),
            ..Default::default()
        })
        .await
        .expect("invite");
    assert!(inv.code.starts_with("pwi_"), "{}", inv.code);
    assert_eq!(inv.invite.spend_cap_usd, Some(3.0), "the operator's default cap");

    let ann = anyone.redeem_invite(&inv.code, "ann").await.expect("redeemed");
    assert_eq!(ann.user.name, "ann");
    assert_eq!(ann.user.spend_cap_usd, Some(3.0));
    assert!(!ann.user.is_admin);
    // The new token works, and is an ordinary user's.
    let me = client(&http, &s.url, &ann.token).me().await.expect("me");
    assert_eq!(me.id, ann.user.id);
    let e = client(&http, &s.url, &ann.token)
        .create_invite(&Default::default())
        .await
        .expect_err("only admins invite");
    assert_eq!(e.code(), Some(ErrorCode::Forbidden));

    // Once only.
    let e = anyone.redeem_invite(&inv.code, "bob").await.expect_err("used");
    assert_eq!(e.code(), Some(ErrorCode::InvalidInvite), "{e}");
    assert!(e.hint().is_some_and(|h| h.contains("operator")), "{e:?}");

    // An admin's own cap wins; a bad name is refused and leaves the invite usable.
    let inv = admin
        .create_invite(&podwarden_api::types::NewInvite {
            spend_cap_usd: Some(0.5),
            expires_in: Some("1h".into()),
            note: None,
        })
        .await
        .expect("invite");
    let e = anyone.redeem_invite(&inv.code, "no spaces").await.expect_err("bad name");
    assert_eq!(e.code(), Some(ErrorCode::InvalidName));
    // Taken: a name, the same name in another case, or a user's id (the admin's is `local`).
    for taken in ["ann", "ANN", "Admin", "local"] {
        let e = anyone.redeem_invite(&inv.code, taken).await.expect_err("taken");
        assert_eq!(e.code(), Some(ErrorCode::Conflict), "{taken}: {e}");
    }
    let bob = anyone.redeem_invite(&inv.code, "bob").await.expect("redeemed");
    assert_eq!(bob.user.spend_cap_usd, Some(0.5));

    // Bad durations are refused; the list shows who redeemed what, never a code.
    let e = admin
        .create_invite(&podwarden_api::types::NewInvite {
            expires_in: Some("1y".into()),
            ..Default::default()
        })
        .await
        .expect_err("too long");
    assert_eq!(e.code(), Some(ErrorCode::InvalidDuration));
    let list = http
        .get(format!("{}/api/v1/invites", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("body");
    assert!(list.contains(&ann.user.id) && list.contains(&bob.user.id), "{list}");
    assert!(!list.contains("pwi_"), "codes are never listed: {list}");

    // Guessing codes is slowed like guessing tokens: past a burst, 429 with Retry-After; a
    // valid code is never refused.
    let mut last = 0;
    for i in 0..20 {
        let r = http
            .post(format!("{}/api/v1/invites/redeem", s.url))
            .json(&serde_json::json!({"code": format!("pwi_guess{i}"), "name": format!("g{i}")}))
            .send()
            .await
            .expect("redeem");
        last = r.status().as_u16();
        if last == 429 {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(last, 404);
    }
    assert_eq!(last, 429, "wrong codes are rate limited");
    let inv = admin.create_invite(&Default::default()).await.expect("invite");
    anyone.redeem_invite(&inv.code, "cy").await.expect("a valid code from the same address");
    s.shutdown().await;
}

/// Two redemptions of different codes with one name, at once: one user, and a 409 (not a 500)
/// for the other, whose invite stays unused.
#[tokio::test]
async fn two_redemptions_of_one_name_at_once_make_one_user() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |_| {}).await;
    let http = reqwest::Client::new();
    let admin = client(&http, &s.url, &s.token);
    for round in 0..5 {
        let (a, b) = (
            admin.create_invite(&Default::default()).await.expect("invite a"),
            admin.create_invite(&Default::default()).await.expect("invite b"),
        );
        let name = format!("twin{round}");
        let anyone = client(&http, &s.url, "");
        let (x, y) = tokio::join!(
            anyone.redeem_invite(&a.code, &name),
            anyone.redeem_invite(&b.code, &name)
        );
        let codes: Vec<Option<ErrorCode>> =
            [&x, &y].iter().map(|r| r.as_ref().err().and_then(|e| e.code())).collect();
        assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 1, "one user made: {codes:?}");
        assert!(codes.contains(&Some(ErrorCode::Conflict)), "the other a 409: {codes:?}");
    }
    s.shutdown().await;
}
