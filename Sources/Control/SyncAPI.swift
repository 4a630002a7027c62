/// `GET /v1/sync`: how far the daemon's copy in the lab's central PostgreSQL database is behind its own database.
public struct SyncStatusInfo: Sendable, Hashable, Codable {
    /// False when the daemon has no `sync:` section; every other field is then absent or zero.
    public var configured: Bool
    public var daemon_id: String?
    /// The connection string, without a password.
    public var server: String?
    /// The last round reached the server.
    public var connected: Bool
    public var schema_version: Int?
    public var last_round_at: String?
    /// Every row stored before this time is in the central database.
    public var synced_through: String?
    /// Seconds from `synced_through` to now: how old the newest row may be that the central database lacks.
    public var lag_s: Double?
    /// Stored here and not yet sent.
    public var pending_samples: Int
    public var pending_events: Int
    public var pending_changes: Int
    /// Runs with something not yet sent.
    public var pending_runs: [Int64]
    public var last_error: String?
    public var last_error_at: String?
    public var consecutive_failures: Int
    public var next_attempt_at: String?
    /// Sent since the daemon started.
    public var sent_samples: Int
    public var sent_events: Int
    public var sent_changes: Int

    public init(
        configured: Bool, daemon_id: String? = nil, server: String? = nil, connected: Bool = false,
        schema_version: Int? = nil, last_round_at: String? = nil, synced_through: String? = nil, lag_s: Double? = nil,
        pending_samples: Int = 0, pending_events: Int = 0, pending_changes: Int = 0, pending_runs: [Int64] = [],
        last_error: String? = nil, last_error_at: String? = nil, consecutive_failures: Int = 0,
        next_attempt_at: String? = nil, sent_samples: Int = 0, sent_events: Int = 0, sent_changes: Int = 0
    ) {
        self.configured = configured
        self.daemon_id = daemon_id
        self.server = server
        self.connected = connected
        self.schema_version = schema_version
        self.last_round_at = last_round_at
        self.synced_through = synced_through
        self.lag_s = lag_s
        self.pending_samples = pending_samples
        self.pending_events = pending_events
        self.pending_changes = pending_changes
        self.pending_runs = pending_runs
        self.last_error = last_error
        self.last_error_at = last_error_at
        self.consecutive_failures = consecutive_failures
        self.next_attempt_at = next_attempt_at
        self.sent_samples = sent_samples
        self.sent_events = sent_events
        self.sent_changes = sent_changes
    }
}
