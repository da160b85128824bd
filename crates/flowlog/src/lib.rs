//! # vnetsim-flowlog: Azure flow logs read into tuples
//!
//! One job: read what Network Watcher writes and hand back flow tuples with the context Azure
//! logged them in (the NIC's MAC address, the evaluating NSG or admin configuration, the rule).
//! It knows nothing of the fabric: mapping a tuple to a NIC and comparing it with the model is
//! `vnetsim-jobs`' work.
//!
//! - VNet flow logs, version 4 (`records[].flowRecords.flows[].flowGroups[].flowTuples`,
//!   13-field tuples, states B/C/E/D, the encryption field);
//! - NSG flow logs, versions 1 (8 fields) and 2 (13 fields);
//! - a blob (`{"records": [...]}`), JSON lines (one record per line), gzip of either, or a
//!   folder tree as the storage account holds it (`.../y=/m=/d=/h=/m=00/macAddress=.../PT1H.json`),
//!   read file by file in path order. The kind is detected from the content.
//!
//! Tolerant as the real data is: timestamps in seconds or milliseconds (a value above 10^11
//! is milliseconds), `flowLogResourceID` or `resourceId`, empty counters on B tuples, `aclID`
//! as a GUID or a full NSG id, a blob cut mid-write at the end of an hour (the complete records
//! before the cut are kept, the cut is counted). A corrupt record or tuple is counted with its
//! location and skipped, never fatal.
//!
//! Memory: one blob at a time (at most [`Limits::max_blob_bytes`] once decompressed); [`fold`]
//! keeps one entry per distinct flow, whatever the volume of logs.

pub mod fold;
pub mod read;
pub mod tuple;

pub use fold::{FlowKey, FoldedFlow, Folder, Interner};
pub use read::{read_blob, read_paths, Error, Limits, Location, ReadStats};
pub use tuple::{parse_mac, Direction, Encryption, Schema, State, Tuple};

/// The context of a group of tuples: who logged them and which rule decided.
#[derive(Clone, Copy, Debug)]
pub struct Group<'a> {
    pub schema: Schema,
    /// The NIC's MAC address (48 bits), when the record or the NSG flow entry names it.
    pub mac: Option<u64>,
    /// VNet flow logs: `aclID` (an NSG id, a GUID, an admin configuration, `unspecified`).
    /// NSG flow logs: the record's `resourceId` (the NSG).
    pub acl: &'a str,
    /// `UserRule_x`, `DefaultRule_x`, an admin rule's bare name, `unspecified`.
    pub rule: &'a str,
    /// `flowLogResourceID` (or `resourceId`) of the record.
    pub resource: &'a str,
    /// `targetResourceID` of a VNet flow log record (VNet, subnet or NIC), if present.
    pub target: Option<&'a str>,
    pub location: Location,
}
