//! Vendor-compatible APIs: thin translations of their routes and shapes onto the one model.
//! Each module parses the vendor's request into model values, calls the catalog or the firing
//! path, and shapes the answer as the vendor would. No logic of their own, no `worker` import.

pub mod ack;
pub mod gitlab;
pub mod servicestage;
pub mod swr;

use crate::context::App;
use crate::error::Error;
use crate::model::Target;
use crate::targets::TargetSpec;

/// The cluster a vendor API names in `field`: a `kubernetes` target, by id or name. A missing one
/// is a 404 and a target of another kind a 400, each naming the field.
pub async fn cluster(app: &App, field: &str, id_or_name: &str) -> Result<Target, Error> {
    if id_or_name.is_empty() {
        return Err(Error::bad_request(format!("{field} is missing")));
    }
    let target = app.catalog().find_target(id_or_name).await.map_err(|err| match err {
        Error::NotFound(_) => Error::not_found(format!("{field}: no cluster '{id_or_name}' (a kubernetes target)")),
        other => other,
    })?;
    if !matches!(target.spec, TargetSpec::Kubernetes(_)) {
        let kind = target.spec.kind_name();
        return Err(Error::bad_request(format!(
            "{field}: '{id_or_name}' is a {kind} target, not a kubernetes cluster"
        )));
    }
    Ok(target)
}
