public import Domain
import Instruments
public import Transport

/// A Mark-10 Series 5/7 force gauge or 7i indicator driven with its GCL2 ASCII command set.
///
/// Requests are upper-case commands ending in CR; replies end in CR LF. A reading (`?`) is a number followed,
/// when the gauge's data format includes units, by a unit (`4.285 N`, `-18.78 lbF`); the driver converts any
/// unit to newtons and applies the gauge's polarity (compression positive by default). Error replies
/// (`*10` illegal command, `*11` not applicable, `*12` invalid specifier, `*22` value too large) are rejections.
/// Setting commands (`Z`, units) have no reply.
public actor Mark10ForceGauge: ForceSensor {
    /// Tuning that rarely changes.
    public struct Options: Sendable, Hashable {
        /// Whether the gauge reports compression as positive (its polarity setting).
        public var compressionIsPositive: Bool
        /// Newtons per unit when the gauge sends numbers without a unit.
        public var newtonsPerUnitWhenUnlabelled: Double
        public var replyTimeout: Duration

        public init(
            compressionIsPositive: Bool = true, newtonsPerUnitWhenUnlabelled: Double = 1,
            replyTimeout: Duration = .seconds(1)
        ) {
            self.compressionIsPositive = compressionIsPositive
            self.newtonsPerUnitWhenUnlabelled = newtonsPerUnitWhenUnlabelled
            self.replyTimeout = replyTimeout
        }
    }

    /// Replies end with CR LF.
    public static let framing = LineFramer.Configuration(terminator: .crOrLF, maxLineLength: 256)
    /// Newtons per unit for every unit a GCL2 gauge may send (compared upper-cased).
    public static let newtonsPerUnit: [String: Double] = [
        "N": 1, "MN": 1e-3, "KN": 1e3, "LBF": 4.448_221_615_260_5, "LB": 4.448_221_615_260_5,
        "OZF": 0.278_013_850_953_781, "OZ": 0.278_013_850_953_781, "KGF": 9.806_65, "KG": 9.806_65,
        "GF": 0.009_806_65, "G": 0.009_806_65,
    ]

    private let channel: LineChannel
    private let conversation = ConversationLock()
    private let options: Options

    public init(transport: any ByteTransport, options: Options = Options()) {
        self.channel = LineChannel(transport: transport, framing: Self.framing, outgoingTerminator: "\r")
        self.options = options
    }

    private nonisolated var instrumentName: String { "Mark-10 gauge on \(channel.portDescription)" }

    public func identify() async throws -> InstrumentIdentity {
        try await exclusively {
            let model = try await query("RM")
            let firmware = try await query("RV")
            let serial = try await query("RS")
            return InstrumentIdentity(
                role: "pressure", model: "Mark-10 \(model)", firmware: firmware, serialNumber: serial,
                port: channel.portDescription)
        }
    }

    public func readForce_N() async throws -> Double {
        try await exclusively {
            let reply = try await query("?")
            guard let force = Self.parseReading(reply, newtonsPerUnlabelledUnit: options.newtonsPerUnitWhenUnlabelled)
            else {
                throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reading \"\(reply)\"")
            }
            return options.compressionIsPositive ? force : -force
        }
    }

    /// Zeroes the gauge and clears its peaks (`Z`).
    public func zero() async throws {
        try await exclusively { try await channel.send(line: "Z") }
    }

    /// Closes the port.
    public func close() async {
        await channel.close()
    }

    /// `4.285 N` -> 4.285; `-18.78 lbF` -> -83.54; a bare number uses `newtonsPerUnlabelledUnit`.
    public static func parseReading(_ reply: String, newtonsPerUnlabelledUnit: Double) -> Double? {
        let fields = reply.split(separator: " ", omittingEmptySubsequences: true)
        guard let number = fields.first.flatMap({ Double($0) }), number.isFinite, fields.count <= 2 else { return nil }
        guard fields.count == 2 else { return number * newtonsPerUnlabelledUnit }
        guard let factor = newtonsPerUnit[fields[1].uppercased()] else { return nil }
        return number * factor
    }

    private func query(_ command: String) async throws -> String {
        try await channel.send(line: command)
        var reply = ""
        while reply.isEmpty { reply = try await channel.readLine(timeout: options.replyTimeout) }
        if reply.hasPrefix("*"), reply.dropFirst().allSatisfy(\.isNumber) {
            let meaning =
                switch reply {
                case "*10": "illegal command"
                case "*11": "not applicable"
                case "*12": "invalid specifier"
                case "*22": "value too large"
                default: "error"
                }
            throw InstrumentError(.rejected, instrument: instrumentName, "\(command): \(reply) \(meaning)")
        }
        return reply
    }

    private func exclusively<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await conversation.acquire()
        do {
            let result = try await body()
            await conversation.release()
            return result
        } catch let error as TransportError {
            await conversation.release()
            throw InstrumentError(error.instrumentErrorCode, instrument: instrumentName, error.description)
        } catch {
            await conversation.release()
            throw error
        }
    }
}

extension TransportError {
    /// The instrument-level code for a transport failure.
    var instrumentErrorCode: InstrumentError.Code {
        switch kind {
        case .timeout: .timeout
        case .garbled, .overlongLine: .invalidReply
        default: .disconnected
        }
    }
}
