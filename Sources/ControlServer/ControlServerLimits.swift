/// What the control server allows a client, so no client (a stalled script, a flood of half-sent requests) can
/// use up the daemon's descriptors or hold up its shutdown.
///
/// One timer covers three cases: a connection that sent nothing, or only part of a request's header, for
/// `idleTimeout` is closed (the header timeout); so is one whose body stops arriving for that long (the body
/// timeout), and an idle keep-alive connection (the idle timeout). An answer being sent (a live stream) is not cut.
/// Beyond `maximumConnections` open connections the server stops accepting: new clients wait in the socket's
/// backlog (`backlog` of them) until one closes.
public struct ControlServerLimits: Sendable, Hashable {
    public var idleTimeout: Duration
    public var maximumConnections: Int
    public var backlog: Int

    public init(idleTimeout: Duration = .seconds(10), maximumConnections: Int = 512, backlog: Int = 128) {
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
        self.backlog = backlog
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}
