import Domain
import Foundation

/// What a step of the exported run was: enough to label replayed results with the right current density.
public struct ExportedStep: Sendable, Hashable, Codable {
    public var index: Int
    public var cycle: Int
    public var kind: String
    public var current_density_mA_cm2: Double

    public init(index: Int, cycle: Int, kind: String, current_density_mA_cm2: Double) {
        self.index = index
        self.cycle = cycle
        self.kind = kind
        self.current_density_mA_cm2 = current_density_mA_cm2
    }
}

/// The commented metadata block at the top of a cellrig CSV export: `# key: value` lines before the header, each
/// value one JSON value (a number, a quoted string, an object), so pandas (`comment="#"`), R and spreadsheets skip
/// them and `cellrig replay` reads them back.
///
/// Keys: `format`, `run`, `protocol`, `protocol_file`, `protocol_sha256`, `parameters`, `area_cm2`,
/// `three_electrode`, `cell`, `metal`, `metal_thickness_um`, `rig`, `software_version`, one `step` line per
/// executed step, and `protocol_text`
/// (the whole protocol as recorded, so the file replays without the protocol at hand). Unknown keys are ignored.
public struct CSVMetadata: Sendable, Hashable {
    /// `cellrig-samples 1` or `cellrig-impedance 1`.
    public var format: String?
    public var runID: Int64?
    public var protocolName: String?
    public var protocolFile: String?
    public var protocolSHA256: String?
    public var parameters: [String: String] = [:]
    public var area_cm2: Double?
    public var threeElectrode: Bool?
    public var cellLabel: String?
    /// The anode metal (`Li`, `Na`, `K`) and its initial thickness, for the temperature and inventory guards.
    public var metal: String?
    public var metalThickness_um: Double?
    public var rigID: String?
    public var softwareVersion: String?
    public var steps: [ExportedStep] = []
    public var protocolText: String?

    public init() {}

    /// The block as text, one `# key: value` line each, ending with a newline.
    public var text: String {
        var lines: [String] = []
        func add<T: Encodable>(_ key: String, _ value: T?) {
            guard let value, let data = try? Self.encoder.encode(value) else { return }
            lines.append("# \(key): " + String(decoding: data, as: UTF8.self))
        }
        add("format", format)
        add("run", runID)
        add("protocol", protocolName)
        add("protocol_file", protocolFile)
        add("protocol_sha256", protocolSHA256)
        if !parameters.isEmpty { add("parameters", parameters) }
        add("area_cm2", area_cm2)
        add("three_electrode", threeElectrode)
        add("cell", cellLabel)
        add("metal", metal)
        add("metal_thickness_um", metalThickness_um)
        add("rig", rigID)
        add("software_version", softwareVersion)
        for step in steps { add("step", step) }
        add("protocol_text", protocolText)
        return lines.map { $0 + "\n" }.joined()
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Reads one `# key: value` line (without its trailing newline) into the block; `line` is its number for
    /// errors. Lines that are plain comments (no `key: ` or an unknown key) are ignored.
    public mutating func read(_ text: Substring, line: Int, source: String) throws(SampleCSVError) {
        var body = text.dropFirst()
        while body.first == " " { body.removeFirst() }
        guard let colon = body.range(of: ": ") else { return }
        let key = String(body[..<colon.lowerBound])
        let value = Data(body[colon.upperBound...].utf8)
        func decode<T: Decodable>(_ type: T.Type) throws(SampleCSVError) -> T {
            do {
                return try JSONDecoder().decode(type, from: value)
            } catch {
                throw SampleCSVError(
                    source: source, line: line, column: nil,
                    message: "metadata '\(key)': '\(String(decoding: value, as: UTF8.self))' is not a JSON "
                        + "\(T.self == String.self ? "string" : "\(T.self)") value")
            }
        }
        switch key {
        case "format": format = try decode(String.self)
        case "run": runID = try decode(Int64.self)
        case "protocol": protocolName = try decode(String.self)
        case "protocol_file": protocolFile = try decode(String.self)
        case "protocol_sha256": protocolSHA256 = try decode(String.self)
        case "parameters": parameters = try decode([String: String].self)
        case "area_cm2":
            let area = try decode(Double.self)
            guard area > 0, area.isFinite else {
                throw SampleCSVError(
                    source: source, line: line, column: nil,
                    message: "metadata 'area_cm2': \(area) is not a positive area")
            }
            area_cm2 = area
        case "three_electrode": threeElectrode = try decode(Bool.self)
        case "cell": cellLabel = try decode(String.self)
        case "metal": metal = try decode(String.self)
        case "metal_thickness_um": metalThickness_um = try decode(Double.self)
        case "rig": rigID = try decode(String.self)
        case "software_version": softwareVersion = try decode(String.self)
        case "step": steps.append(try decode(ExportedStep.self))
        case "protocol_text": protocolText = try decode(String.self)
        default: return
        }
    }

    /// True when no key was read.
    public var isEmpty: Bool { self == CSVMetadata() }
}
