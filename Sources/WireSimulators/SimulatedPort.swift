import SerialTransport
public import Transport

/// An instrument simulator that speaks a real instrument's command set over a byte transport.
public protocol WireSimulator: Actor {
    /// Answers requests arriving on `transport` until it hangs up, is closed, or the task is cancelled.
    func serve(on transport: any ByteTransport) async
}

/// A simulator running on a pseudo-terminal: drivers open `path` exactly as they would open a real port.
public final class SimulatedPort: Sendable {
    /// The device path to give a driver, e.g. `/dev/pts/4`.
    public let path: String
    private let terminal: PseudoTerminal
    private let serving: Task<Void, Never>

    private init(path: String, terminal: PseudoTerminal, serving: Task<Void, Never>) {
        self.path = path
        self.terminal = terminal
        self.serving = serving
    }

    /// Opens a pseudo-terminal and starts `simulator` on its instrument side.
    public static func start(_ simulator: some WireSimulator) throws -> SimulatedPort {
        let terminal = try PseudoTerminal()
        let serving = Task { await simulator.serve(on: terminal) }
        return SimulatedPort(path: terminal.slavePath, terminal: terminal, serving: serving)
    }

    /// Stops the simulator and closes the pseudo-terminal (the driver sees a hang-up).
    public func stop() async {
        serving.cancel()
        await terminal.close()
        await serving.value
    }
}

/// Reads framed lines from a transport for a simulator; returns nil when the host side is gone.
struct SimulatorLineReader {
    private var framer: LineFramer
    private var ready: [LineFramer.Output] = []

    init(_ configuration: LineFramer.Configuration) {
        framer = LineFramer(configuration)
    }

    /// The next framed line; `ignoring` is asked about every chunk as it arrives, and a chunk it ignores is dropped
    /// with any partial line before it (an instrument that is not listening).
    mutating func next(
        from transport: any ByteTransport, ignoring: @Sendable (_ chunk: [UInt8]) async -> Bool = { _ in false }
    ) async -> LineFramer.Output? {
        while ready.isEmpty {
            if Task.isCancelled { return nil }
            do {
                let chunk = try await transport.receive(maxCount: 4096, timeouts: ReceiveTimeouts(reply: .seconds(1)))
                if await ignoring(chunk) {
                    framer.reset()
                    continue
                }
                ready = framer.push(chunk)
            } catch let error as TransportError where error.kind == .timeout {
                continue
            } catch {
                return nil
            }
        }
        return ready.removeFirst()
    }
}

/// A simulator running in process: hand `transport` to a driver; no pseudo-terminal involved.
public final class InProcessInstrument: Sendable {
    /// The host end, for the driver.
    public let transport: InMemoryTransport
    private let instrumentEnd: InMemoryTransport
    private let serving: Task<Void, Never>

    private init(transport: InMemoryTransport, instrumentEnd: InMemoryTransport, serving: Task<Void, Never>) {
        self.transport = transport
        self.instrumentEnd = instrumentEnd
        self.serving = serving
    }

    /// Connects a new in-memory pipe and starts `simulator` on its instrument end.
    public static func start(_ simulator: some WireSimulator, portDescription: String = "in-process") async
        -> InProcessInstrument
    {
        let (host, instrument) = await InMemoryTransport.pair(hostDescription: portDescription)
        let serving = Task { await simulator.serve(on: instrument) }
        return InProcessInstrument(transport: host, instrumentEnd: instrument, serving: serving)
    }

    /// Stops the simulator; the driver sees a hang-up.
    public func stop() async {
        serving.cancel()
        await instrumentEnd.close()
        await serving.value
    }
}
