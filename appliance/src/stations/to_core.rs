//! The core's side of the station manager's outputs: a recording accepted as a message, a
//! message heard on the phone marked played, one deleted with `7` deleted for that user.

use offhook_domain::VoiceMessaging;
use offhook_domain::accept::Recording;
use station_manager::{Output, RequestId};
use tokio::sync::Semaphore;
use tracing::{info, warn};
use uuid::Uuid;

use super::uuid;

/// Recordings being sealed and stored at once (each holds its audio in memory meanwhile).
pub(super) const STORES_AT_ONCE: usize = 4;

/// The permits for [`STORES_AT_ONCE`]. One appliance runs per process, so one set per process.
pub(super) static STORES: Semaphore = Semaphore::const_new(STORES_AT_ONCE);

/// Hands an output to the core (off the station task: storing a recording takes fsyncs), as
/// one of `tasks`, which shutdown waits for.
pub(super) fn output(core: &VoiceMessaging, output: Output, tasks: &mut tokio::task::JoinSet<()>) {
    let core = core.clone();
    tasks.spawn(async move {
        match output {
            Output::Recorded {
                request,
                user,
                to,
                file,
                speech,
                reason,
                ..
            } => {
                let to: Vec<Uuid> = to.into_iter().map(uuid).collect();
                let recording = Recording {
                    file,
                    speech: Some(speech),
                };
                let request = request.map(|RequestId(id)| id);
                // Bounded: a stop ends a thousand recordings at once (see `stop`).
                let _permit = STORES.acquire().await.ok();
                match core
                    .accept_phone_recording(request, uuid(user), to, recording)
                    .await
                {
                    Ok(a) => info!(message_id = %a.id, ?reason, "recording stored"),
                    Err(e) => warn!(error = %e, "recording not stored"),
                }
            }
            Output::RecordFailed { request, reason } => core.recording_failed(request.0, reason),

            Output::Played { user, message } => {
                let (u, m) = (uuid(user), Uuid::from_bytes(message.0));
                if let Err(e) = core.mark_played(u, m).await {
                    warn!(error = %e, "cannot mark a message played");
                }
            }
            Output::Deleted { user, message } => {
                let (u, m) = (uuid(user), Uuid::from_bytes(message.0));
                if let Err(e) = core.delete_for(u, m).await {
                    warn!(error = %e, "cannot delete a message");
                }
            }
            // Handled in order by `drain`, never here.
            Output::LiveBuffer { .. } | Output::LiveEnd { .. } | Output::Capturing { .. } => {}
            other => warn!(?other, "an output the appliance does not handle"),
        }
    });
}
