//! Which compatible API made a trigger, so that each of those APIs lists and shows only its own.
//! Stored as the text today's records hold (`swr:cce`, `ack:application`,
//! `servicestage:{project_id}`); it never widens what a trigger may fire, except that an ACK
//! application trigger takes caller images (`Trigger::admit_caller_images`). No `worker` import.

use super::{from_wire_name, wire_name};
use serde::{Deserialize, Serialize};

/// A trigger made by the native API has none (`Trigger::origin` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Origin {
    /// Huawei SWR's image-trigger API, with the mode its view shows back.
    Swr { mode: SwrMode },
    /// Alibaba ACK's redeploy triggers: a restart (`deployment`) or a set-image (`application`).
    Ack { trigger_type: AckTriggerType },
    /// Huawei ServiceStage's hooks, listed per project.
    ServiceStage { project_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwrMode {
    Cce,
    Cci,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckTriggerType {
    Deployment,
    Application,
}

const SWR: &str = "swr";
const ACK: &str = "ack";
const SERVICESTAGE: &str = "servicestage";

impl From<Origin> for String {
    fn from(origin: Origin) -> String {
        match origin {
            Origin::Swr { mode } => format!("{SWR}:{}", wire_name(&mode)),
            Origin::Ack { trigger_type } => format!("{ACK}:{}", wire_name(&trigger_type)),
            Origin::ServiceStage { project_id } => format!("{SERVICESTAGE}:{project_id}"),
        }
    }
}

impl TryFrom<String> for Origin {
    type Error = String;

    fn try_from(text: String) -> Result<Origin, String> {
        let unknown = || format!("origin: '{}' is not one this version knows", super::quoted(&text));
        let (api, rest) = text.split_once(':').ok_or_else(unknown)?;
        match api {
            SWR => from_wire_name(rest).map(|mode| Origin::Swr { mode }),
            ACK => from_wire_name(rest).map(|trigger_type| Origin::Ack { trigger_type }),
            SERVICESTAGE => Some(Origin::ServiceStage { project_id: rest.to_string() }),
            _ => None,
        }
        .ok_or_else(unknown)
    }
}
