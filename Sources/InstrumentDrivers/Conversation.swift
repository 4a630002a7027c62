public import Instruments
public import Transport

/// Runs `body` holding `lock`, the one lock helper every driver uses, so that exchanges with one instrument never
/// interleave (driver actors are reentrant: without it an `openCircuit()` issued while `nextSample()` waits would read
/// the pending reply).
///
/// The lock is released however `body` ends. A `TransportError` becomes an ``InstrumentError`` naming `instrument`
/// and keeping the transport's description (with the bytes last sent and received); `afterTransportFailure` runs
/// first, inside the driver's isolation, so the driver can note that the instrument's state is now unknown.
func exclusively<Result: Sendable>(
    _ lock: ConversationLock, instrument: String, isolation: isolated (any Actor)? = #isolation,
    afterTransportFailure: () -> Void = {}, _ body: () async throws -> Result
) async throws -> Result {
    await lock.acquire()
    do {
        let result = try await body()
        await lock.release()
        return result
    } catch let error as TransportError {
        afterTransportFailure()
        await lock.release()
        throw InstrumentError(error, instrument: instrument)
    } catch {
        await lock.release()
        throw error
    }
}

extension InstrumentError {
    /// The instrument-level error for a transport failure: `timeout`, `invalid-reply` for garbled or overlong
    /// lines, `disconnected` for everything else; the message is the transport's description, bytes included.
    public init(_ error: TransportError, instrument: String) {
        let code: Code =
            switch error.kind {
            case .timeout: .timeout
            case .garbled, .overlongLine: .invalidReply
            default: .disconnected
            }
        self.init(code, instrument: instrument, error.description)
    }
}
