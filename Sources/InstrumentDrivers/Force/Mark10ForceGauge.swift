public import Domain
import Instruments
public import Transport

/// A Mark-10 Series 5/7 force gauge or 7i indicator driven with its GCL2 ASCII command set.
///
/// Requests are upper-case commands ending in CR; replies end in CR LF. A reading (`?`) is a number followed,
/// when the gauge's data format includes units, by a unit (`4.285 N`, `-18.78 lbF`). The gauge powers on in the
/// unit it was left in (pounds-force from the factory) and may be set to numeric-only output, so before its first
/// reading the driver sets it to newtons (`N`, no reply) and reads the unit back with `LIST` (whose second field is
/// the unit, `V1.00;N;CUR;...`). A reading with a unit is converted from that unit; a bare number is taken as
/// newtons only when `LIST` confirmed newtons, and refused otherwise, never guessed. Compression is positive
/// unless the rig says the gauge's polarity is inverted. Error replies (`*10` illegal command, `*11` not
/// applicable, `*12` invalid specifier, `*22` value too large) are rejections; a reply that is not a number (an
/// overload message, `nan`, a garbled or truncated line) is an invalid reply.
public actor Mark10ForceGauge: ForceSensor {
    /// Replies end with CR LF.
    public static let framing = LineFramer.Configuration(terminator: .crOrLF, maxLineLength: 256)
    /// Newtons per unit for every unit a GCL2 gauge may send (compared upper-cased).
    public static let newtonsPerUnit: [String: Double] = [
        "N": 1, "MN": 1e-3, "KN": 1e3, "LBF": 4.448_221_615_260_5, "LB": 4.448_221_615_260_5,
        "OZF": 0.278_013_850_953_781, "OZ": 0.278_013_850_953_781, "KGF": 9.806_65, "KG": 9.806_65,
        "GF": 0.009_806_65, "G": 0.009_806_65,
    ]

    /// What the driver knows about the gauge's unit.
    private enum Unit: Sendable, Hashable {
        /// Not set yet: the next reading sets newtons first.
        case unset
        /// Set to newtons and confirmed by `LIST`: bare numbers are newtons.
        case newtons
        /// Set to newtons, but the gauge does not report its unit: only labelled readings are accepted.
        case unconfirmed
    }

    private let channel: LineChannel
    private let conversation = ConversationLock()
    private let configuration: Mark10Configuration
    private let replyTimeout: Duration
    private var unit = Unit.unset

    /// `configuration` is the rig file's `pressure_sensor:` entry; its `line` was used to open `transport`.
    public init(transport: any ByteTransport, configuration: Mark10Configuration) {
        self.channel = LineChannel(transport: transport, framing: Self.framing, outgoingTerminator: "\r")
        self.configuration = configuration
        self.replyTimeout = .seconds(configuration.replyTimeout_s)
    }

    private nonisolated var instrumentName: String { "Mark-10 gauge on \(channel.portDescription)" }

    public func identify() async throws -> InstrumentIdentity {
        try await exclusively(conversation, instrument: instrumentName) {
            let model = try await query("RM")
            let firmware = try await query("RV")
            let serial = try await query("RS")
            return InstrumentIdentity(
                role: "pressure", model: "Mark-10 \(model)", firmware: firmware, serialNumber: serial,
                port: channel.portDescription)
        }
    }

    /// The force in newtons, compression positive. The first reading (and the first after a failed exchange)
    /// sets the gauge to newtons and confirms it.
    public func readForce_N() async throws -> Double {
        try await exclusively(conversation, instrument: instrumentName, afterTransportFailure: { unit = .unset }) {
            if unit == .unset { try await setNewtons() }
            let reply = try await query("?")
            let force = try newtons(in: reply)
            return configuration.compressionIsPositive ? force : -force
        }
    }

    /// Zeroes the gauge and clears its peaks (`Z`).
    public func zero() async throws {
        try await exclusively(conversation, instrument: instrumentName) { try await channel.send(line: "Z") }
    }

    /// Closes the port.
    public func close() async {
        await channel.close()
    }

    /// `4.285 N` -> 4.285; `-18.78 lbF` -> -83.54; a bare number when `LIST` confirmed newtons. Throws for
    /// anything else, naming the reply.
    private func newtons(in reply: String) throws -> Double {
        let fields = reply.split(separator: " ", omittingEmptySubsequences: true)
        guard let number = fields.first.flatMap({ Double($0) }), number.isFinite, fields.count <= 2 else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reading \"\(reply)\"")
        }
        if fields.count == 2 {
            guard let factor = Self.newtonsPerUnit[fields[1].uppercased()] else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "unknown unit in the reading \"\(reply)\"")
            }
            return number * factor
        }
        guard unit == .newtons else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "the reading \"\(reply)\" has no unit and the gauge does not report its unit (LIST): set the gauge's "
                    + "data format to include units")
        }
        return number
    }

    /// Sends `N` (newtons; no reply unless refused) and `LIST`, and reads the unit `LIST` reports. A refused `N`
    /// or a unit other than newtons is a rejection; a gauge without `LIST` leaves the unit unconfirmed.
    private func setNewtons() async throws {
        try await channel.send(line: "N")
        try await channel.send(line: "LIST")
        var errors: [String] = []
        var settings: String?
        while settings == nil && errors.count < 2 {
            let line: String
            do {
                line = try await nextLine()
            } catch let error as TransportError where error.kind == .timeout && errors.count == 1 {
                break  // one error and silence: `LIST` was refused, `N` was accepted
            }
            if Self.isErrorReply(line) {
                errors.append(line)
            } else if line.contains(";") {
                settings = line
            } else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "unexpected reply to LIST: \"\(line)\"")
            }
        }
        if let settings {
            if let refusal = errors.first {
                throw InstrumentError(
                    .rejected, instrument: instrumentName, "N (newtons): \(refusal) \(Self.meaning(of: refusal))")
            }
            let units = settings.split(separator: ";").map { $0.uppercased() }.filter { Self.newtonsPerUnit[$0] != nil }
            guard let reported = units.first else {
                unit = .unconfirmed
                return
            }
            guard reported == "N" else {
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "the gauge still reports \(reported) after N (newtons); LIST answered \"\(settings)\"")
            }
            unit = .newtons
        } else if errors.count == 2 {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "N (newtons): \(errors[0]) \(Self.meaning(of: errors[0])); LIST: \(errors[1])")
        } else {
            unit = .unconfirmed
        }
    }

    private func query(_ command: String) async throws -> String {
        try await channel.send(line: command)
        let reply = try await nextLine()
        if Self.isErrorReply(reply) {
            throw InstrumentError(
                .rejected, instrument: instrumentName, "\(command): \(reply) \(Self.meaning(of: reply))")
        }
        return reply
    }

    /// The next non-empty line.
    private func nextLine() async throws -> String {
        var reply = ""
        while reply.isEmpty { reply = try await channel.readLine(timeout: replyTimeout) }
        return reply
    }

    private static func isErrorReply(_ reply: String) -> Bool {
        reply.hasPrefix("*") && reply.count > 1 && reply.dropFirst().allSatisfy(\.isNumber)
    }

    private static func meaning(of error: String) -> String {
        switch error {
        case "*10": "illegal command"
        case "*11": "not applicable"
        case "*12": "invalid specifier"
        case "*22": "value too large"
        default: "error"
        }
    }
}
