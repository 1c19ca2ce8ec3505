//! The Postgres twins of the migrations apply, in order, to a real Postgres (the local server;
//! `PODWARDEN_TEST_POSTGRES` overrides the URL), each run in its own fresh schema, and end with
//! the same tables and columns as SQLite's.

use sqlx::{AssertSqlSafe, Connection};
// Dynamic SQL here only names our own uuid-named schema and our own migrations' tables.

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[tokio::test]
async fn postgres_migrations_apply_and_match_sqlites_schema() {
    // A fresh schema (CI must have Postgres; elsewhere a missing one skips, saying so).
    let Some(url) = podwarden_store::testing::fresh_postgres().await else { return };
    let mut pg = sqlx::PgConnection::connect(&url).await.expect("connect to the test schema");
    let (schema,): (String,) =
        sqlx::query_as("SELECT current_schema()::text").fetch_one(&mut pg).await.expect("schema");
    let applied = POSTGRES_MIGRATIONS.run(&mut pg).await;
    let pg_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name <> '_sqlx_migrations' ORDER BY 1, 2",
    )
    .bind(&schema)
    .fetch_all(&mut pg)
    .await
    .expect("columns");
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut pg)
        .await
        .expect("drop");
    applied.expect("every Postgres migration applies");
    assert_eq!(
        POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(),
        SQLITE_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(),
        "the same migrations in both dialects"
    );

    let mut lite = sqlx::SqliteConnection::connect("sqlite::memory:").await.expect("sqlite");
    SQLITE_MIGRATIONS.run(&mut lite).await.expect("sqlite migrations");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
    )
    .fetch_all(&mut lite)
    .await
    .expect("tables");
    let mut lite_columns = Vec::new();
    for (t,) in tables {
        let cols: Vec<(String,)> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{t}')")))
                .fetch_all(&mut lite)
                .await
                .expect("columns");
        lite_columns.extend(cols.into_iter().map(|(c,)| (t.clone(), c)));
    }
    lite_columns.sort();
    assert_eq!(
        pg_columns, lite_columns,
        "Postgres and SQLite end with the same tables and columns"
    );
    assert!(pg_columns.contains(&("jobs".into(), "account".into())));
}

/// Two replicas on one Postgres auditing at once lose no entry (ids were `MAX(id) + 1` under
/// each process's own lock: 15 of 40 were lost while every call succeeded).
#[tokio::test]
async fn two_replicas_auditing_at_once_lose_no_entry() {
    let Some(url) = podwarden_store::testing::fresh_postgres().await else { return };
    let a = podwarden_store::Store::open_postgres(&url).await.expect("replica a");
    let b = podwarden_store::Store::open_postgres(&url).await.expect("replica b");
    let row = |i: i64| podwarden_store::AuditRow {
        id: 0,
        at: i,
        user_id: "u".into(),
        op: "upload".into(),
        volume: "v".into(),
        path: Some(format!("f{i}")),
        bytes: Some(i),
        result: "ok".into(),
    };
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        writes.spawn(async move { s.audit(&row(i)).await });
    }
    while let Some(w) = writes.join_next().await {
        w.expect("task").expect("audit");
    }
    let rows = a.audit_log(None, 100).await.expect("log");
    assert_eq!(rows.len(), 40, "every entry kept");
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 40, "distinct ids");
}
