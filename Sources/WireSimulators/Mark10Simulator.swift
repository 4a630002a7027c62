public import Transport

/// A Mark-10 force gauge simulated at the GCL2 level.
///
/// Written from the GCL2 description: upper-case commands ending in CR or CR LF (LF ignored), replies ending
/// in CR LF; `?`/`?C` reading, `?PC`/`?PT` peaks, `Z` zero (and clear peaks), `CLR`, unit commands
/// (`N`, `MN`, `KN`, `LB`, `OZ`, `KG`, `G`), `RN`/`RM`/`RV`/`RS` personality, `LIST`; `*10` for anything else.
/// Readings are `value unit` (or the value alone in the numeric-only data format), compression positive. Like a
/// gauge out of its box, it powers on in pounds-force.
public actor Mark10Simulator: WireSimulator {
    /// What the simulated gauge says about itself and how it formats readings.
    public struct Device: Sendable, Hashable {
        public var productName: String
        public var model: String
        public var firmware: String
        public var serialNumber: String
        /// Whether readings carry their unit (false: the numeric-only data format).
        public var unitsInReadings: Bool
        public var decimals: Int
        /// The unit command in effect at power-on: `LB` (pounds-force) for a gauge as it leaves the factory.
        public var powerOnUnit: String

        public init(
            productName: String = "Series 5", model: String = "M5-200", firmware: String = "1.05",
            serialNumber: String = "SIM5200", unitsInReadings: Bool = true, decimals: Int = 2,
            powerOnUnit: String = "LB"
        ) {
            self.productName = productName
            self.model = model
            self.firmware = firmware
            self.serialNumber = serialNumber
            self.unitsInReadings = unitsInReadings
            self.decimals = decimals
            self.powerOnUnit = powerOnUnit
        }
    }

    private static let units: [String: (label: String, newtons: Double)] = [
        "N": ("N", 1), "MN": ("mN", 1e-3), "KN": ("kN", 1e3), "LB": ("lbF", 4.448_221_615_260_5),
        "OZ": ("ozF", 0.278_013_850_953_781), "KG": ("kgF", 9.806_65), "G": ("gF", 0.009_806_65),
    ]

    private let device: Device
    private let force: @Sendable () async -> Double
    /// The unit command in effect (`LB`, `N`, ...): pounds-force at power-on, as a factory-set gauge.
    public private(set) var unit: String
    private var zeroOffset_N = 0.0
    private var peakCompression_N = 0.0
    private var peakTension_N = 0.0

    /// `force` gives the true force in newtons (compression positive) whenever the gauge samples.
    /// The gauge starts in `device.powerOnUnit` (pounds-force unless told); drivers must cope.
    public init(device: Device = Device(), force: @escaping @Sendable () async -> Double) {
        self.device = device
        self.force = force
        self.unit = Self.units[device.powerOnUnit] == nil ? "LB" : device.powerOnUnit
    }

    public func serve(on transport: any ByteTransport) async {
        var reader = SimulatorLineReader(LineFramer.Configuration(terminator: .cr, maxLineLength: 64))
        while let output = await reader.next(from: transport) {
            guard case .line(let line) = output else {
                await reply("*10", on: transport)
                continue
            }
            let command = line.trimmingWhitespace()
            if command.isEmpty { continue }
            if let answer = await execute(command) { await reply(answer, on: transport) }
        }
    }

    private func execute(_ command: String) async -> String? {
        if Self.units[command] != nil {
            unit = command
            return nil
        }
        switch command {
        case "?", "?C":
            let reading = await sample()
            return format(reading)
        case "?PC": return format(peakCompression_N)
        case "?PT": return format(-peakTension_N)
        case "Z":
            zeroOffset_N = await force()
            peakCompression_N = 0
            peakTension_N = 0
            return nil
        case "CLR":
            peakCompression_N = 0
            peakTension_N = 0
            return nil
        case "RN": return device.productName
        case "RM": return device.model
        case "RV": return device.firmware
        case "RS": return device.serialNumber
        case "LIST":
            return
                "V\(device.firmware);\(Self.units[unit]!.label.uppercased());CUR;FLTC8;FLTP1;AOUT00;AOFF0;FULL;MIT;POL;B0"
        default: return "*10"
        }
    }

    private func sample() async -> Double {
        let reading = await force() - zeroOffset_N
        peakCompression_N = max(peakCompression_N, reading)
        peakTension_N = max(peakTension_N, -reading)
        return reading
    }

    private func format(_ force_N: Double) -> String {
        let (label, newtons) = Self.units[unit]!
        let value = Self.fixed(force_N / newtons, decimals: device.decimals)
        return device.unitsInReadings ? "\(value) \(label)" : value
    }

    private func reply(_ text: String, on transport: any ByteTransport) async {
        try? await transport.send(Array((text + "\r\n").utf8))
    }

    /// Fixed-point text with `decimals` digits after the point.
    static func fixed(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let integer = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(integer) }
        return sign + "\(integer)." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
