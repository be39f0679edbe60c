//! The storage contract: every storage operation, run on the backend under test. The suite runs once
//! per backend, so SQLite and PostgreSQL are held to the same behaviour.

use chrono::{Duration, SubsecRound, Utc};
use uuid::Uuid;
use wardline::auth::repo::{self, NewAccount};
use wardline::auth::sms::{OutboxSender, SmsSender, outbox_for};
use wardline::auth::{Language, Role};
use wardline::store::Db;
use wardline::{on_db, on_tx, org};

use crate::helpers::test_settings;

async fn db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;
    let db = Db::connect(&settings.database_url(), 4).await.unwrap();
    db.migrate().await.unwrap();
    // Migrating twice is a no-op.
    db.migrate().await.unwrap();
    (db, dir)
}

fn new(phone: &str, role: Role) -> NewAccount<'_> {
    NewAccount {
        phone,
        display_name: "Tên",
        role,
        password_hash: Some("h"),
        password_must_change: true,
    }
}

#[tokio::test]
async fn accounts() {
    let (db, _d) = db().await;
    let now = Utc::now().trunc_subsecs(6);
    let id = repo::insert_account(&db, &new("+84900000001", Role::Staff), now)
        .await
        .unwrap()
        .unwrap();
    assert!(
        repo::insert_account(&db, &new("+84900000001", Role::Doctor), now)
            .await
            .unwrap()
            .is_none(),
        "phone is unique"
    );
    let a = repo::account_by_id(&db, id).await.unwrap().unwrap();
    assert_eq!(
        (a.phone.as_str(), a.role, a.language, a.password_must_change),
        ("+84900000001", Role::Staff, Language::Vi, true)
    );
    assert!((a.created_at - now).num_milliseconds().abs() < 1);
    assert_eq!(
        repo::account_by_phone(&db, "+84900000001")
            .await
            .unwrap()
            .unwrap()
            .account_id,
        id
    );
    assert!(
        repo::account_by_phone(&db, "+84999999999")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo::account_by_id(&db, Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );

    repo::update_profile(&db, id, Some("Chị Hoa"), Some(Language::En), now)
        .await
        .unwrap();
    repo::update_profile(&db, id, None, None, now)
        .await
        .unwrap();
    let a = repo::account_by_id(&db, id).await.unwrap().unwrap();
    assert_eq!(
        (a.display_name.as_str(), a.language),
        ("Chị Hoa", Language::En)
    );
    repo::set_password(&db, id, "h2", false, now).await.unwrap();
    let a = repo::account_by_id(&db, id).await.unwrap().unwrap();
    assert_eq!(
        (a.password_hash.as_deref(), a.password_must_change),
        (Some("h2"), false)
    );

    for i in 2..6 {
        repo::insert_account(
            &db,
            &new(
                &format!("+8490000000{i}"),
                if i % 2 == 0 {
                    Role::Doctor
                } else {
                    Role::Staff
                },
            ),
            now,
        )
        .await
        .unwrap();
    }
    let all = repo::list_accounts(&db, None, None, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(
        all.windows(2).all(|w| w[0].account_id < w[1].account_id),
        "ordered by id"
    );
    assert_eq!(
        repo::list_accounts(&db, Some(Role::Doctor), None, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let page = repo::list_accounts(&db, None, Some(all[1].account_id), 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|a| a.account_id).collect::<Vec<_>>(),
        vec![all[2].account_id, all[3].account_id]
    );

    // Disabling revokes refresh tokens; enabling does not bring them back.
    let fam = Uuid::now_v7();
    repo::insert_refresh(&db, fam, id, "hash-a", now + Duration::days(1), now)
        .await
        .unwrap();
    assert!(repo::set_disabled(&db, id, Some(now), now).await.unwrap());
    assert!(
        repo::account_by_id(&db, id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_some()
    );
    assert!(
        repo::refresh_by_hash(&db, "hash-a")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(repo::set_disabled(&db, id, None, now).await.unwrap());
    assert!(
        repo::account_by_id(&db, id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
    assert!(
        !repo::set_disabled(&db, Uuid::now_v7(), Some(now), now)
            .await
            .unwrap()
    );
    db.close().await;
}

#[tokio::test]
async fn one_time_codes_and_time_windows() {
    let (db, _d) = db().await;
    let t0 = Utc::now().trunc_subsecs(6);
    // Sub-second differences must order correctly on both backends.
    repo::insert_otp(
        &db,
        "+84900000010",
        "10.0.0.1",
        "h1",
        t0 + Duration::minutes(5),
        t0,
    )
    .await
    .unwrap();
    repo::insert_otp(
        &db,
        "+84900000010",
        "10.0.0.2",
        "h2",
        t0 + Duration::minutes(5),
        t0 + Duration::milliseconds(500),
    )
    .await
    .unwrap();
    repo::insert_otp(
        &db,
        "+84900000011",
        "10.0.0.1",
        "h3",
        t0 + Duration::minutes(5),
        t0 + Duration::seconds(1),
    )
    .await
    .unwrap();
    let w = repo::otp_window(&db, "+84900000010", "10.0.0.1", t0 - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!((w.by_phone, w.by_ip), (2, 2));
    assert_eq!(
        w.newest_by_phone.map(|t| (t - t0).num_milliseconds()),
        Some(500)
    );
    let w = repo::otp_window(
        &db,
        "+84900000010",
        "10.0.0.1",
        t0 + Duration::milliseconds(250),
    )
    .await
    .unwrap();
    assert_eq!((w.by_phone, w.by_ip), (1, 1));

    let live = repo::live_otp(&db, "+84900000010", t0 + Duration::seconds(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.code_hash, "h2", "newest first");
    assert!(
        repo::live_otp(&db, "+84900000010", t0 + Duration::minutes(6))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    for _ in 0..3 {
        assert!(
            repo::spend_otp_attempt(&db, live.otp_challenge_id, 3, t0)
                .await
                .unwrap()
        );
    }
    assert!(
        !repo::spend_otp_attempt(&db, live.otp_challenge_id, 3, t0)
            .await
            .unwrap()
    );
    assert!(
        repo::consume_otp(&db, live.otp_challenge_id, t0)
            .await
            .unwrap()
    );
    assert!(
        !repo::consume_otp(&db, live.otp_challenge_id, t0)
            .await
            .unwrap()
    );
    assert_eq!(
        repo::live_otp(&db, "+84900000010", t0)
            .await
            .unwrap()
            .unwrap()
            .code_hash,
        "h1"
    );

    repo::record_login_failure(&db, "+84900000010", "10.0.0.1", t0)
        .await
        .unwrap();
    repo::record_login_failure(&db, "+84900000010", "10.0.0.1", t0 + Duration::seconds(10))
        .await
        .unwrap();
    let (n, oldest) = repo::login_failures_since(&db, "+84900000010", t0 - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!((oldest.unwrap() - t0).num_milliseconds().abs() < 1);
    assert_eq!(
        repo::login_failures_since(&db, "+84900000010", t0 + Duration::seconds(5))
            .await
            .unwrap()
            .0,
        1
    );

    let sms = OutboxSender { db: db.clone() };
    sms.send("+84900000010", "first", t0).await.unwrap();
    sms.send("+84900000010", "second", t0 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        outbox_for(&db, "+84900000010", 5).await.unwrap(),
        vec!["second", "first"]
    );
    db.close().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_once() {
    let (db, _d) = db().await;
    let now = Utc::now().trunc_subsecs(6);
    let id = repo::insert_account(&db, &new("+84900000020", Role::Resident), now)
        .await
        .unwrap()
        .unwrap();
    let fam = Uuid::now_v7();
    repo::insert_refresh(&db, fam, id, "r1", now + Duration::days(30), now)
        .await
        .unwrap();
    let r1 = repo::refresh_by_hash(&db, "r1").await.unwrap().unwrap();
    assert_eq!((r1.family_id, r1.account_id), (fam, id));
    assert!(
        repo::rotate_refresh(&db, &r1, "r2", now + Duration::days(30), now)
            .await
            .unwrap()
    );
    assert!(
        !repo::rotate_refresh(&db, &r1, "r3", now + Duration::days(30), now)
            .await
            .unwrap(),
        "second rotation loses"
    );
    assert!(
        repo::refresh_by_hash(&db, "r3").await.unwrap().is_none(),
        "the loser left nothing behind"
    );
    assert!(
        repo::refresh_by_hash(&db, "r1")
            .await
            .unwrap()
            .unwrap()
            .rotated_at
            .is_some()
    );
    repo::revoke_family(&db, fam, now).await.unwrap();
    assert!(
        repo::refresh_by_hash(&db, "r2")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    db.close().await;
}

#[tokio::test]
async fn organisation() {
    let (db, _d) = db().await;
    let now = Utc::now().trunc_subsecs(6);
    let staff = repo::insert_account(&db, &new("+84900000030", Role::Staff), now)
        .await
        .unwrap()
        .unwrap();
    let doctor = repo::insert_account(&db, &new("+84900000031", Role::Doctor), now)
        .await
        .unwrap()
        .unwrap();
    let unit = org::create_unit(&db, "Tổ vệ sinh", org::UnitKind::Team, now)
        .await
        .unwrap();
    assert!(matches!(
        org::create_unit(&db, "Tổ vệ sinh", org::UnitKind::Office, now).await,
        Err(wardline::error::Error::Conflict("unit_name_taken"))
    ));
    org::add_unit_member(&db, unit.unit_id, staff, now)
        .await
        .unwrap();
    org::add_unit_member(&db, unit.unit_id, staff, now)
        .await
        .unwrap();
    assert!(
        org::add_unit_member(&db, unit.unit_id, doctor, now)
            .await
            .is_err()
    );
    assert_eq!(org::list_units(&db).await.unwrap()[0].members, vec![staff]);
    org::remove_unit_member(&db, unit.unit_id, staff)
        .await
        .unwrap();
    assert!(org::list_units(&db).await.unwrap()[0].members.is_empty());

    let st = org::create_station(&db, "Trạm y tế", "1 Lê Lợi", now)
        .await
        .unwrap();
    assert!(matches!(
        org::create_station(&db, "Trạm y tế", "", now).await,
        Err(wardline::error::Error::Conflict("station_name_taken"))
    ));
    org::add_station_doctor(&db, st.station_id, doctor, now)
        .await
        .unwrap();
    assert_eq!(
        org::list_stations(&db).await.unwrap()[0].doctors,
        vec![doctor]
    );
    org::remove_station_doctor(&db, st.station_id, doctor)
        .await
        .unwrap();
    assert!(org::list_stations(&db).await.unwrap()[0].doctors.is_empty());
    db.close().await;
}

#[tokio::test]
async fn transactions_commit_or_roll_back() {
    let (db, _d) = db().await;
    let now = Utc::now().trunc_subsecs(6);
    let insert = "INSERT INTO units (unit_id, name, kind, created_at, updated_at) VALUES ($1, $2, 'team', $3, $3)";
    // An error after a statement rolls the statement back …
    let failed: Result<(), wardline::error::Error> = db
        .transaction(async |tx| {
            on_tx!(tx, conn => sqlx::query(insert).bind(Uuid::now_v7()).bind("rolled back").bind(now).execute(conn).await.map(|_| ()))?;
            Err(wardline::error::Error::Conflict("changed_my_mind"))
        })
        .await;
    assert!(failed.is_err());
    // … and so does a transaction dropped before it ends (a client that hung up).
    let abandoned = db.transaction(async |tx| {
        on_tx!(tx, conn => sqlx::query(insert).bind(Uuid::now_v7()).bind("abandoned").bind(now).execute(conn).await.map(|_| ()))?;
        std::future::pending::<Result<(), sqlx::Error>>().await
    });
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), abandoned)
            .await
            .is_err()
    );
    // `Ok` commits.
    db.transaction(async |tx| {
        on_tx!(tx, conn => sqlx::query(insert).bind(Uuid::now_v7()).bind("kept").bind(now).execute(conn).await.map(|_| ()))
    })
    .await
    .unwrap();
    let names: Vec<String> =
        on_db!(&db, pool => sqlx::query_scalar("SELECT name FROM units").fetch_all(pool).await)
            .unwrap();
    assert_eq!(names, vec!["kept"]);
    db.ping().await.unwrap();
    db.close().await;
}
