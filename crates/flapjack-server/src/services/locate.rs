//! Family 0x0002 LOCATE: profiles, away messages, capabilities (§8.2, §10).
//!
//! * 0x0004 set info: the profile (TLVs 0x0001/0x0002), the away message three ways
//!   (a non-empty TLV 0x0004 = away, an empty one = back, none = unchanged) and the
//!   capabilities (TLV 0x0005). Away and capability changes are announced to watchers.
//!   Profiles are kept in the store when the server is configured to.
//! * 0x0005 / 0x0015 user info query → 0x0006: the user-info block plus what was asked for
//!   (profile, away message, capabilities). A user who is offline, invisible or who blocks the
//!   asker (or whom the asker blocks) gets error 0x0004 "not logged on".

use flapjack_wire::family::locate::{
    AwayChange, DirReply, InfoTlvs, InfoType, Locate, RightsReply, SetInfo, UserInfoReply, dir_status,
};
use flapjack_wire::snac::Message;
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::{Capability, ErrorCode, ScreenName, TlvBlock};

use super::{Cx, ServiceError, presence, unix_now};
use crate::store::Profile;

/// The family id.
pub const FAMILY: u16 = 0x0002;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// Longest profile and away message kept (bytes; AOL's limit).
pub const MAX_PROFILE_LEN: u16 = 1024;
/// Most full-UUID capabilities kept.
pub const MAX_CAPABILITIES: u16 = 128;
/// Most addresses in a find-by-email list (announced only).
pub const MAX_FIND_BY_EMAIL: u16 = 10;
/// Longest certificate blob (announced only; certificates are not kept).
pub const MAX_CERTS_LEN: u16 = 0;
/// Most short capabilities (announced only).
pub const MAX_SHORT_CAPABILITIES: u16 = 128;

/// The MIME type assumed when a client sends a profile or away message without one.
const DEFAULT_MIME: &[u8] = b"text/aolrtf; charset=\"us-ascii\"";

/// Handles one LOCATE SNAC.
pub async fn handle(cx: &Cx<'_>, message: Locate<'_>) -> Result<(), ServiceError> {
    match message {
        Locate::RightsQuery(_) => cx.reply(Message::Locate(Locate::RightsReply(RightsReply::new(
            MAX_PROFILE_LEN,
            MAX_CAPABILITIES,
            MAX_FIND_BY_EMAIL,
            MAX_CERTS_LEN,
            MAX_SHORT_CAPABILITIES,
        )))),
        Locate::SetInfo(info) => set_info(cx, &info).await,
        Locate::UserInfoQuery(q) => user_info(cx, q.info_type, &q.screen_name),
        Locate::UserInfoQuery2(q) => user_info(cx, q.info_type(), &q.screen_name),
        // Directory and keyword info are not kept.
        Locate::GetDirInfo(_) => cx.reply(Message::Locate(Locate::GetDirReply(DirReply {
            status: dir_status::UNAVAILABLE,
            tlvs: TlvBlock::empty(),
        }))),
        Locate::SetDirInfo(_) | Locate::SetKeywordInfo(_) => cx.error(FAMILY, ErrorCode::NotSupportedByHost),
        _ => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

fn capped(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(usize::from(MAX_PROFILE_LEN))].to_vec()
}

async fn set_info(cx: &Cx<'_>, info: &SetInfo<'_>) -> Result<(), ServiceError> {
    let profile = info.profile().map(capped);
    let profile_mime = info.profile_mime().map(<[u8]>::to_vec);
    let caps: Option<Vec<Capability>> = info
        .capabilities()
        .map(|c| c.take(usize::from(MAX_CAPABILITIES)).collect());
    let away = info.away_change();
    let away_mime = info.away_mime().map(<[u8]>::to_vec);
    let (announce, stored_profile) = cx.session.with_state(|s| {
        let p = &mut s.presence;
        let mut announce = false;
        if let Some(body) = profile {
            p.profile_mime = Some(profile_mime.unwrap_or_else(|| DEFAULT_MIME.to_vec()));
            p.profile = Some(body);
        }
        match away {
            AwayChange::Unchanged => {}
            AwayChange::Away(text) => {
                p.away_mime = Some(away_mime.unwrap_or_else(|| DEFAULT_MIME.to_vec()));
                let text = capped(text);
                announce |= !s.away || p.away_message.as_deref() != Some(&text[..]);
                p.away_message = Some(text);
                s.away = true;
            }
            AwayChange::Back => {
                announce |= s.away;
                p.away_message = None;
                p.away_mime = None;
                s.away = false;
            }
        }
        let p = &mut s.presence;
        if let Some(caps) = caps
            && caps != p.capabilities
        {
            p.capabilities = caps;
            announce = true;
        }
        let stored = info.profile().is_some().then(|| Profile {
            profile_mime: p.profile_mime.clone(),
            profile: p.profile.clone(),
            away_mime: None,
            away: None,
        });
        (announce, stored)
    });
    if announce {
        presence::status_changed(cx.state, cx.session);
    }
    if cx.state.config.persist_profiles
        && let Some(p) = stored_profile
        && let Err(e) = cx.state.store.set_profile(cx.session.normalized(), p).await
    {
        tracing::warn!(error = %e, "storing the profile failed");
    }
    Ok(())
}

fn user_info(cx: &Cx<'_>, info_type: InfoType, screen_name: &ScreenName<'_>) -> Result<(), ServiceError> {
    let target = normalize_screen_name(screen_name.as_bytes());
    let rep = if target == cx.session.normalized() {
        Some(cx.session.clone())
    } else {
        let sessions = cx.state.registry.sessions(&target);
        presence::representative(&sessions).filter(|_| presence::can_see(cx.state, cx.session, &target))
    };
    let Some(rep) = rep else {
        return cx.error(FAMILY, ErrorCode::NotLoggedOn);
    };
    let user = rep.user_info(unix_now());
    let tlvs = rep.read_state(|s| {
        let p = &s.presence;
        let mut t = InfoTlvs::new();
        if info_type.contains(InfoType::PROFILE) {
            // Asked for and absent: an empty profile, so clients stop waiting for one.
            t = t.profile(
                p.profile_mime.as_deref().unwrap_or(DEFAULT_MIME),
                p.profile.as_deref().unwrap_or_default(),
            );
        }
        if info_type.contains(InfoType::AWAY)
            && let Some(text) = &p.away_message
        {
            t = t.away(p.away_mime.as_deref().unwrap_or(DEFAULT_MIME), text);
        }
        if info_type.contains(InfoType::CAPABILITIES) {
            t = t.capabilities(&p.capabilities);
        }
        t.build()
    })?;
    cx.reply(Message::Locate(Locate::UserInfoReply(UserInfoReply { user, tlvs })))
}
