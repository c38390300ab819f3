//! The tokens of H.248.1 Annex B.3, long and compact.

/// A keyword: its long and its compact spelling (both case-insensitive on input).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tok(pub(super) &'static str, pub(super) &'static str);

impl Tok {
    /// Whether `word` is this token, in either spelling.
    pub(super) fn is(self, word: &str) -> bool {
        word.eq_ignore_ascii_case(self.0) || word.eq_ignore_ascii_case(self.1)
    }

    /// The spelling for a form.
    pub(super) fn get(self, compact: bool) -> &'static str {
        if compact { self.1 } else { self.0 }
    }
}

macro_rules! tokens {
    ($($name:ident = $long:literal, $short:literal;)*) => {
        $(pub(super) const $name: Tok = Tok($long, $short);)*
    };
}

tokens! {
    ADD = "Add", "A";
    AUDIT = "Audit", "AT";
    AUDIT_CAP = "AuditCapability", "AC";
    AUDIT_VALUE = "AuditValue", "AV";
    AUTHENTICATION = "Authentication", "AU";
    BRIEF = "Brief", "BR";
    BUFFER = "Buffer", "BF";
    CONTEXT = "Context", "C";
    CONTEXT_AUDIT = "ContextAudit", "CA";
    DIGIT_MAP = "DigitMap", "DM";
    DISCONNECTED = "Disconnected", "DC";
    DELAY = "Delay", "DL";
    DURATION = "Duration", "DR";
    EMBED = "Embed", "EM";
    EMERGENCY = "Emergency", "EG";
    ERROR = "Error", "ER";
    EVENT_BUFFER = "EventBuffer", "EB";
    EVENTS = "Events", "E";
    FAILOVER = "Failover", "FL";
    FORCED = "Forced", "FO";
    GRACEFUL = "Graceful", "GR";
    HANDOFF = "HandOff", "HO";
    IMM_ACK_REQUIRED = "ImmAckRequired", "IA";
    INACTIVE = "Inactive", "IN";
    IN_SVC = "InService", "IV";
    INT_BY_EVENT = "IntByEvent", "IBE";
    INT_BY_SIG_DESCR = "IntBySigDescr", "IBS";
    KEEP_ACTIVE = "KeepActive", "KA";
    LOCAL = "Local", "L";
    LOCAL_CONTROL = "LocalControl", "O";
    LOCK_STEP = "LockStep", "SP";
    LOOPBACK = "LoopBack", "LB";
    MEDIA = "Media", "M";
    MEGACO = "MEGACO", "!";
    METHOD = "Method", "MT";
    MGC_ID = "MgcIdToTry", "MG";
    MODE = "Mode", "MO";
    MODIFY = "Modify", "MF";
    MODEM = "Modem", "MD";
    MOVE = "Move", "MV";
    MTP = "MTP", "MTP";
    MUX = "Mux", "MX";
    NOTIFY = "Notify", "N";
    NOTIFY_COMPLETION = "NotifyCompletion", "NC";
    OBSERVED_EVENTS = "ObservedEvents", "OE";
    ON_OFF = "OnOff", "OO";
    OTHER_REASON = "OtherReason", "OR";
    OUT_OF_SVC = "OutOfService", "OS";
    PACKAGES = "Packages", "PG";
    PENDING = "Pending", "PN";
    PRIORITY = "Priority", "PR";
    PROFILE = "Profile", "PF";
    REASON = "Reason", "RE";
    RECV_ONLY = "ReceiveOnly", "RC";
    REPLY = "Reply", "P";
    RESPONSE_ACK = "TransactionResponseAck", "K";
    RESTART = "Restart", "RS";
    REMOTE = "Remote", "R";
    RESERVED_GROUP = "ReservedGroup", "RG";
    RESERVED_VALUE = "ReservedValue", "RV";
    SEND_ONLY = "SendOnly", "SO";
    SEND_RECV = "SendReceive", "SR";
    SERVICES = "Services", "SV";
    SERVICE_STATES = "ServiceStates", "SI";
    SERVICE_CHANGE = "ServiceChange", "SC";
    SERVICE_CHANGE_ADDRESS = "ServiceChangeAddress", "AD";
    SIGNAL_LIST = "SignalList", "SL";
    SIGNALS = "Signals", "SG";
    SIGNAL_TYPE = "SignalType", "SY";
    STATS = "Statistics", "SA";
    STREAM = "Stream", "ST";
    SUBTRACT = "Subtract", "S";
    TERMINATION_STATE = "TerminationState", "TS";
    TEST = "Test", "TE";
    TIME_OUT = "TimeOut", "TO";
    TOPOLOGY = "Topology", "TP";
    TRANSACTION = "Transaction", "T";
    VERSION = "Version", "V";
}
