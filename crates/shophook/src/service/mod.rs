//! What a merchant or the platform can do, called alike by the API (`api/`) and
//! the web UI (`ui/`): their handlers only parse input, call a service and shape
//! the answer, so a rule lives in one place and neither side imports the other.

pub mod accounts;
pub mod deliveries;
pub mod events;
pub mod portal;
pub mod preview;
pub mod webhooks;
