/// A transport that plays a fixed conversation, for byte-exact driver tests.
///
/// The script lists what the host must write (`expect`) and what the instrument answers (`reply`), in order.
/// Writes are compared byte by byte against the expected bytes, regardless of how the host chunks them.
/// Replies become readable as soon as every expectation before them has been met; each `reply` step is
/// delivered as one chunk (split it into several steps to test partial reads). When nothing is readable,
/// `receive` throws a timeout at once, so tests of timeout handling need no waiting. A mismatch throws
/// `ScriptedTransport.Mismatch` and is recorded; call `verifyFinished()` at the end of the test.
public actor ScriptedTransport: ByteTransport {
    /// One step of the conversation.
    public enum Step: Sendable, Hashable {
        /// The host must write exactly these bytes next.
        case expect([UInt8])
        /// The instrument answers with these bytes.
        case reply([UInt8])
        /// The instrument hangs up: reads and writes fail with `disconnected` from here on.
        case hangUp

        /// The host must write this text (UTF-8) next.
        public static func expect(_ text: String) -> Step { .expect(Array(text.utf8)) }
        /// The instrument answers with this text (UTF-8).
        public static func reply(_ text: String) -> Step { .reply(Array(text.utf8)) }
    }

    /// A write that did not match the script.
    public struct Mismatch: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Which way a chunk of bytes went.
    public enum Direction: Sendable, Hashable {
        case hostToInstrument
        case instrumentToHost
    }

    /// One chunk written or read, and when.
    public struct Exchange: Sendable, Hashable {
        public var direction: Direction
        public var bytes: [UInt8]
        public var time: ContinuousClock.Instant
    }

    public nonisolated let portDescription: String
    private var steps: [Step]
    private var nextStep = 0
    private var matchedInCurrentExpectation = 0
    private var readable: [[UInt8]] = []
    private var hungUp = false
    private var closed = false
    private var recordedMismatches: [Mismatch] = []
    /// Every chunk written and read, in order, with the time it was written or read (for tests of pauses the
    /// host must keep, e.g. after an error reply).
    public private(set) var transcript: [Exchange] = []

    public init(_ steps: [Step], portDescription: String = "scripted") {
        self.steps = steps
        self.portDescription = portDescription
    }

    /// Adds steps to the end of the script.
    public func append(_ more: [Step]) {
        steps += more
        releaseReplies()
    }

    /// The mismatches seen so far.
    public var mismatches: [Mismatch] { recordedMismatches }

    /// Throws when a write mismatched, when expected writes are missing, or when replies were never read.
    public func verifyFinished() throws {
        releaseReplies()
        if let first = recordedMismatches.first { throw first }
        if nextStep < steps.count {
            throw Mismatch(description: "script not finished: next step \(nextStep) is \(describe(steps[nextStep]))")
        }
        if !readable.isEmpty {
            let unread = readable.map { "\"\(ByteText.escaped($0))\"" }.joined(separator: ", ")
            throw Mismatch(description: "replies never read: \(unread)")
        }
    }

    public func send(_ bytes: [UInt8]) async throws {
        releaseReplies()
        if closed { throw TransportError(.closed, port: portDescription, sent: bytes) }
        if hungUp { throw TransportError(.disconnected, port: portDescription, "hung up", sent: bytes) }
        transcript.append(Exchange(direction: .hostToInstrument, bytes: bytes, time: .now))
        for (offset, byte) in bytes.enumerated() {
            guard nextStep < steps.count, case .expect(let expected) = steps[nextStep] else {
                throw mismatch("unexpected write \"\(ByteText.escaped(bytes[offset...]))\" after the end of the script")
            }
            guard expected[matchedInCurrentExpectation] == byte else {
                let wanted = expected[matchedInCurrentExpectation...]
                throw mismatch(
                    "step \(nextStep): expected \"\(ByteText.escaped(wanted))\", host wrote \"\(ByteText.escaped(bytes[offset...]))\""
                )
            }
            matchedInCurrentExpectation += 1
            if matchedInCurrentExpectation == expected.count {
                matchedInCurrentExpectation = 0
                nextStep += 1
                releaseReplies()
            }
        }
    }

    public func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        releaseReplies()
        if closed { throw TransportError(.closed, port: portDescription) }
        guard !readable.isEmpty else {
            if hungUp { throw TransportError(.disconnected, port: portDescription, "hung up") }
            throw TransportError(.timeout, port: portDescription, "no scripted reply pending")
        }
        var chunk = readable.removeFirst()
        if chunk.count > maxCount {
            readable.insert(Array(chunk[maxCount...]), at: 0)
            chunk = Array(chunk.prefix(maxCount))
        }
        transcript.append(Exchange(direction: .instrumentToHost, bytes: chunk, time: .now))
        return chunk
    }

    public func close() async {
        closed = true
    }

    private func releaseReplies() {
        while nextStep < steps.count, matchedInCurrentExpectation == 0 {
            switch steps[nextStep] {
            case .reply(let bytes):
                if !bytes.isEmpty { readable.append(bytes) }
                nextStep += 1
            case .hangUp:
                hungUp = true
                nextStep += 1
            case .expect:
                return
            }
        }
    }

    private func mismatch(_ text: String) -> Mismatch {
        let error = Mismatch(description: "\(portDescription): \(text)")
        recordedMismatches.append(error)
        return error
    }

    private func describe(_ step: Step) -> String {
        switch step {
        case .expect(let bytes): "expect \"\(ByteText.escaped(bytes))\""
        case .reply(let bytes): "reply \"\(ByteText.escaped(bytes))\""
        case .hangUp: "hang up"
        }
    }
}
