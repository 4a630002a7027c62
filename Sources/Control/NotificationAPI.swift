/// The JSON document the daemon posts to the `notify:` webhook and hands to the notify command on its standard
/// input: what happened to which run, in words and numbers.
public struct RunNotification: Sendable, Hashable, Codable {
    /// `run-ended`, `fault` or `pause`.
    public var kind: String
    public var run_id: Int64
    public var rig: String
    public var protocol_name: String
    /// The run's state when the notification was made (`stopped`, `faulted`, `paused`, ...).
    public var state: String
    /// Why: the run's end reason, or the fault's or pause's message.
    public var reason: String
    /// The critical current density a short criterion found.
    public var ccd_mA_cm2: Double?
    /// The verdict that stopped or paused the run, with its evidence.
    public var verdict: VerdictInfo?
    /// Cell time of the event, when it has one.
    public var time_s: Double?
    /// Wall time the daemon made the notification (ISO 8601).
    public var created_at: String
    /// The PC the daemon runs on.
    public var host: String
    /// Notifications dropped since the previous one that was sent (a full queue or throttling), so a receiver knows
    /// it missed some.
    public var dropped_before: Int

    public init(
        kind: String, run_id: Int64, rig: String, protocol_name: String, state: String, reason: String,
        ccd_mA_cm2: Double? = nil, verdict: VerdictInfo? = nil, time_s: Double? = nil, created_at: String, host: String,
        dropped_before: Int = 0
    ) {
        self.kind = kind
        self.run_id = run_id
        self.rig = rig
        self.protocol_name = protocol_name
        self.state = state
        self.reason = reason
        self.ccd_mA_cm2 = ccd_mA_cm2
        self.verdict = verdict
        self.time_s = time_s
        self.created_at = created_at
        self.host = host
        self.dropped_before = dropped_before
    }
}
