//! Change notices across instances sharing one PostgreSQL database: admin
//! changes `NOTIFY hookgate_keys`; every instance `LISTEN`s and tells its
//! [`ChangeListener`] (the key cache, which clears itself, and caches only
//! while the listener is connected, so a missed notification can never
//! keep a deleted key alive).

use super::DbConnection;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Who hears of changes made by any instance.
pub trait ChangeListener: Send + Sync + 'static {
    /// The listener connected (`true`) or lost its connection (`false`):
    /// changes may go unheard while it is not connected.
    fn connected(&self, connected: bool);
    /// Some instance changed keys, agents or routes.
    fn changed(&self);
}

const CHANNEL: &str = "hookgate_keys";
/// How often the listener reads its socket: the bound on cross-instance delay.
const POLL: Duration = Duration::from_millis(100);

/// Tells the other instances that keys, agents or routes changed.
pub fn announce_change(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute(&format!("NOTIFY {CHANNEL}"))?;
    }
    Ok(())
}

/// Starts the listener thread; it ends when `listener` is dropped.
pub fn spawn_listener<L: ChangeListener>(url: String, listener: &Arc<L>) {
    listener.connected(false);
    let cache = Arc::downgrade(listener);
    super::blocking::spawn_loop("hookgate-listen", move || listen(&url, &cache));
}

fn listen<L: ChangeListener>(url: &str, cache: &Weak<L>) {
    let mut logged_down = false;
    while cache.strong_count() > 0 {
        match PgConnection::establish(url).and_then(|mut conn| {
            conn.batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }) {
            Ok(mut conn) => {
                let Some(live) = cache.upgrade() else { return };
                live.connected(true);
                drop(live);
                logged_down = false;
                tracing::debug!("listening for key changes");
                let result = drain(&mut conn, cache);
                if let Some(live) = cache.upgrade() {
                    live.connected(false);
                }
                if let Err(e) = result {
                    tracing::warn!(error = %e, "key-change listener lost its connection; caching is off until it is back");
                }
            }
            Err(e) => {
                if !logged_down {
                    tracing::warn!(error = %e, "key-change listener cannot connect; caching is off");
                    logged_down = true;
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reads notifications until the connection fails or the cache is gone.
fn drain<L: ChangeListener>(conn: &mut PgConnection, cache: &Weak<L>) -> diesel::QueryResult<()> {
    loop {
        std::thread::sleep(POLL);
        let Some(live) = cache.upgrade() else {
            return Ok(());
        };
        // A round trip makes libpq read the socket, queueing notifications.
        conn.batch_execute("SELECT 1")?;
        let mut changed = false;
        for notification in conn.notifications_iter() {
            notification?;
            changed = true;
        }
        if changed {
            live.changed();
        }
    }
}
