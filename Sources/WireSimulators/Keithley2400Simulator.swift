public import Domain
public import Simulation
public import Transport

/// A Keithley 2400 SourceMeter simulated at the SCPI level, sourcing current into a cell model.
///
/// Written from the 2400's SCPI description: case-insensitive headers in long or short form, optional leading
/// colon, `;`-separated commands on one line, replies only to queries, an error queue read with `:SYST:ERR?`
/// (`-113,"Undefined header"`, `-222,"Parameter data out of range"`, `-109,"Missing parameter"`). `:READ?`
/// waits the trigger delay (advancing the cell by it), then returns the enabled elements in the fixed order
/// VOLT, CURR, RES, TIME, STAT, with 9.91E37 for unmeasured elements. Above the voltage compliance the reading
/// is clamped and status bit 3 is set. With the output off and the high-impedance off state, no current flows.
///
/// Sourcing voltage (`:SOUR:FUNC VOLT`, `:SOUR:VOLT:LEV`), each reading applies the current that brings the cell
/// model's voltage to the level, within the current compliance (`:SENS:CURR:PROT`); at the compliance the current
/// is clamped and status bit 3 is set, as in current mode for the voltage.
///
/// The TIME element counts seconds since power-on, or since the last `:SYST:TIME:RES`, and wraps to 0 after
/// 99 999.999 s, as the manual says; the simulator starts as an instrument switched on `clockAtStart_s` seconds
/// ago (five hours by default), not at 0. Its clock advances with the readings (cell time).
///
/// The output interlock (Digital I/O pin 8) follows the manual: once enabled (`:OUTP:INT:STAT ON`, or
/// `:OUTP:ENAB:STAT ON` on firmware that calls it output enable), the output cannot be switched on while the line
/// is released and goes off, high impedance, the moment it is released. `InterlockLine.watchdog` models an external
/// retriggerable watchdog on the host's transmit line: the line is held while the host sent a byte within the hold
/// time, so a host that falls silent has its output switched off by the instrument itself.
public actor Keithley2400Simulator: WireSimulator {
    /// What the simulated instrument says about itself and how it ends replies.
    public struct Device: Sendable, Hashable {
        public var identification: String
        /// Reply terminator: `\r` (factory), `\r\n`, `\n` or `\n\r`.
        public var replyTerminator: String
        /// The interlock subsystem keyword the firmware answers to: `INT` (interlock) or `ENAB` (output enable).
        public var interlockKeyword: String

        public init(identification: String, replyTerminator: String = "\r", interlockKeyword: String = "INT") {
            self.identification = identification
            self.replyTerminator = replyTerminator
            self.interlockKeyword = interlockKeyword
        }

        public static let model2400 = Device(
            identification: "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4001234,C32   Oct  4 2010 14:20:11/A02  /S/K")
    }

    /// What holds the interlock line (Digital I/O pin 8).
    public enum InterlockLine: Sendable, Hashable {
        /// Pulled low: the output may be on.
        case held
        /// Floating high: an enabled interlock keeps the output off.
        case released
        /// Held while the host sent something within `holdTime` of cell time (in wall time: divided by the
        /// speed factor), as a retriggerable watchdog on the host's transmit line would hold it.
        case watchdog(holdTime: Duration)
    }

    /// An interlock that switched the output off.
    public struct InterlockTrip: Sendable, Hashable {
        /// How long the host had been silent when it happened (wall time).
        public var hostSilence: Duration
        /// The readings answered before it.
        public var readingsBefore: Int
    }

    private let device: Device
    private let speed: SimulationSpeed
    private var cell: any CellModel
    private var transport: (any ByteTransport)?
    private var errors: [String] = []
    private var outputOn = false
    private var outputOffState = "NORM"
    private var sourceFunction = "VOLT"
    private var currentLevel_A = 0.0
    private var voltageLevel_V = 0.0
    private var currentCompliance_A = 105e-6
    /// The current of the latest reading, where the search for the next one under a voltage source starts.
    private var latestCurrent_A = 0.0
    private var compliance_V = 21.0
    private var remoteSense = false
    private var elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
    private var triggerDelay_s = 0.0
    private var integration_PLC = 1.0
    /// Cell seconds since the simulator started.
    private var time_s = 0.0
    /// The value of `time_s` at which TIME read 0: at power-on, or at the last `:SYST:TIME:RES`.
    private var clockZero_s: Double
    private var readingsSent = 0
    private var interlockLine: InterlockLine
    private var interlockEnabled = false
    private var lastHostTraffic = ContinuousClock.now
    private var trips: [InterlockTrip] = []
    private var hostGone = false

    /// TIME wraps to 0 after 99 999.999 s.
    public static let clockWrap_s = 100_000.0
    /// Five hours: what the TIME element of an instrument switched on that morning reads.
    public static let defaultClockAtStart_s = 18_000.0

    /// With `.factor(f)`, `:READ?` takes its trigger delay and integration time divided by `f` in wall time.
    /// `clockAtStart_s` is what TIME reads before the first reading: the seconds since the instrument was switched on.
    public init(
        cell: some CellModel, device: Device = .model2400, speed: SimulationSpeed = .unlimited,
        interlockLine: InterlockLine = .held, clockAtStart_s: Double = defaultClockAtStart_s
    ) {
        self.cell = cell
        self.device = device
        self.speed = speed
        self.interlockLine = interlockLine
        self.clockZero_s = -clockAtStart_s
    }

    /// Whether the output is on (current can flow).
    public var isOutputOn: Bool { outputOn }
    /// What the source drives: `CURR` or `VOLT`.
    public var sourcedFunction: String { sourceFunction }
    /// The output-off state (`HIMP`, `NORM`, `ZERO`, `GUAR`).
    public var outputOffMode: String { outputOffState }
    public var groundTruth: [GroundTruthEvent] { cell.groundTruth }
    /// Readings answered to `:READ?` or `:MEAS?` since the simulator started: its side of a sample count.
    public var sentSampleCount: Int { readingsSent }
    /// Whether the interlock is enabled (`:OUTP:INT:STAT ON`).
    public var isInterlockEnabled: Bool { interlockEnabled }
    /// Every time the interlock switched the output off.
    public var interlockTrips: [InterlockTrip] { trips }
    /// What the TIME element reads now.
    public var clock_s: Double { (time_s - clockZero_s).truncatingRemainder(dividingBy: Self.clockWrap_s) }

    /// Changes what holds the interlock line, as a switch or a watchdog would.
    public func setInterlockLine(_ line: InterlockLine) {
        interlockLine = line
        applyInterlock()
    }

    public func serve(on transport: any ByteTransport) async {
        self.transport = transport
        hostGone = false
        lastHostTraffic = .now
        let watchdog = Task { await watchInterlock() }
        defer { watchdog.cancel() }
        var reader = SimulatorLineReader(LineFramer.Configuration(terminator: .crOrLF, maxLineLength: 256))
        while let output = await reader.next(from: transport) {
            lastHostTraffic = .now
            applyInterlock()
            guard case .line(let line) = output else {
                errors.append("-102,\"Syntax error\"")
                continue
            }
            for command in line.split(separator: ";") {
                if let reply = await execute(String(command)) { await send(reply) }
            }
        }
        // A host that hung up is silent too: a watchdog still switches the output off after its hold time.
        hostGone = true
        await withTaskCancellationHandler {
            await watchdog.value
        } onCancel: {
            watchdog.cancel()
        }
    }

    /// Whether something holds the interlock line low now.
    private var isInterlockLineHeld: Bool {
        switch interlockLine {
        case .held: true
        case .released: false
        case .watchdog(let holdTime): ContinuousClock.now - lastHostTraffic < wallTime(holdTime)
        }
    }

    private func wallTime(_ duration: Duration) -> Duration {
        if case .factor(let factor) = speed { return duration / factor }
        return duration
    }

    /// An enabled interlock whose line is released switches the output off, high impedance.
    private func applyInterlock() {
        guard interlockEnabled, outputOn, !isInterlockLineHeld else { return }
        outputOn = false
        trips.append(
            InterlockTrip(hostSilence: ContinuousClock.now - lastHostTraffic, readingsBefore: readingsSent))
    }

    /// Checks a watchdog line until the task is cancelled, or the host is gone and nothing is left to switch off.
    private func watchInterlock() async {
        while !Task.isCancelled {
            guard case .watchdog(let holdTime) = interlockLine else {
                if hostGone { return }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            try? await Task.sleep(for: wallTime(holdTime) / 20)
            applyInterlock()
            if hostGone && !(interlockEnabled && outputOn) { return }
        }
    }

    private func send(_ reply: String) async {
        try? await transport?.send(Array((reply + device.replyTerminator).utf8))
    }

    /// Runs one command; returns the reply for a query.
    private func execute(_ text: String) async -> String? {
        let trimmed = text.trimmingBlanks()
        guard !trimmed.isEmpty else { return nil }
        let headerEnd = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        let header = trimmed[..<headerEnd].uppercased()
        let argument = trimmed[headerEnd...].trimmingBlanks()
        let isQuery = header.hasSuffix("?")
        guard let path = Self.canonicalPath(isQuery ? String(header.dropLast()) : header) else {
            errors.append("-113,\"Undefined header\"")
            return nil
        }
        switch (path, isQuery) {
        case ("*IDN", true): return device.identification
        case ("*OPC", true): return "1"
        case ("*RST", false): reset()
        case ("*CLS", false): errors.removeAll()
        case ("SYST:ERR", true), ("SYST:ERR:NEXT", true):
            return errors.isEmpty ? "0,\"No error\"" : errors.removeFirst()
        case ("SYST:TIME:RES", false): clockZero_s = time_s
        case ("SYST:TIME", true): return Self.scientific(clock_s)
        case ("SYST:RSEN", false): remoteSense = parseSwitch(argument) ?? remoteSense
        case ("SYST:RSEN", true): return remoteSense ? "1" : "0"
        case ("SOUR:FUNC", false), ("SOUR:FUNC:MODE", false):
            guard let function = Self.canonicalPath(argument.uppercased()), ["CURR", "VOLT"].contains(function) else {
                return rangeError()
            }
            sourceFunction = function
        case ("SOUR:CURR:MODE", false), ("SOUR:CLE:AUTO", false), ("SENS:FUNC", false), ("SENS:VOLT:RANG", false),
            ("SOUR:CURR:RANG", false), ("FORM:DATA", false), ("TRIG:COUN", false), ("ABOR", false),
            ("SOUR:VOLT:MODE", false), ("SOUR:VOLT:RANG", false), ("SENS:CURR:RANG", false):
            if path == "SENS:FUNC", !["VOLT", "CURR"].contains(where: argument.uppercased().contains) {
                return rangeError()
            }
            if path == "SOUR:CLE:AUTO", parseSwitch(argument) == true { return rangeError() }
        case ("SOUR:CURR:LEV", false), ("SOUR:CURR", false):
            guard let value = Double(argument), abs(value) <= 1.05 else { return rangeError() }
            currentLevel_A = value
        case ("SOUR:CURR:LEV", true): return Self.scientific(currentLevel_A)
        case ("SOUR:VOLT:LEV", false), ("SOUR:VOLT", false):
            guard let value = Double(argument), abs(value) <= 210 else { return rangeError() }
            voltageLevel_V = value
        case ("SOUR:VOLT:LEV", true): return Self.scientific(voltageLevel_V)
        case ("SENS:CURR:PROT", false), ("SENS:CURR:PROT:LEV", false):
            guard let value = Double(argument), value > 0, value <= 1.05 else { return rangeError() }
            currentCompliance_A = value
        case ("SENS:CURR:PROT", true): return Self.scientific(currentCompliance_A)
        case ("SENS:VOLT:PROT", false), ("SENS:VOLT:PROT:LEV", false):
            guard let value = Double(argument), value > 0, value <= 210 else { return rangeError() }
            compliance_V = value
        case ("SENS:VOLT:PROT", true): return Self.scientific(compliance_V)
        case ("SENS:VOLT:NPLC", false):
            guard let value = Double(argument), value >= 0.01, value <= 10 else { return rangeError() }
            integration_PLC = value
        case ("TRIG:DEL", false):
            guard let value = Double(argument), value >= 0, value <= 999.9999 else { return rangeError() }
            triggerDelay_s = value
        case ("FORM:ELEM", false), ("FORM:ELEM:SENS", false):
            let requested = argument.uppercased().split(separator: ",").map { Self.canonicalPath($0.trimmingBlanks()) }
            guard !requested.isEmpty, requested.allSatisfy({ $0 != nil }) else { return rangeError() }
            let order = ["VOLT", "CURR", "RES", "TIME", "STAT"]
            elements = order.filter { requested.contains($0) }
        case ("OUTP:SMOD", false):
            guard let mode = Self.canonicalPath(argument.uppercased()), ["HIMP", "NORM", "ZERO", "GUAR"].contains(mode)
            else {
                return rangeError()
            }
            outputOffState = mode
        case ("OUTP", false), ("OUTP:STAT", false):
            guard let state = parseSwitch(argument) else { return rangeError() }
            if state, interlockEnabled, !isInterlockLineHeld {
                errors.append("-221,\"Settings conflict\"")
                return nil
            }
            outputOn = state
        case ("OUTP", true): return outputOn ? "1" : "0"
        case ("OUTP:\(device.interlockKeyword)", false), ("OUTP:\(device.interlockKeyword):STAT", false):
            guard let state = parseSwitch(argument) else { return rangeError() }
            interlockEnabled = state
            applyInterlock()
        case ("OUTP:\(device.interlockKeyword)", true), ("OUTP:\(device.interlockKeyword):STAT", true):
            return interlockEnabled ? "1" : "0"
        case ("OUTP:\(device.interlockKeyword):TRIP", true):
            return isInterlockLineHeld ? "1" : "0"
        case ("READ", true), ("MEAS", true):
            return await read()
        default:
            errors.append("-113,\"Undefined header\"")
        }
        return nil
    }

    private func read() async -> String? {
        guard outputOn else {
            errors.append("803,\"Output disabled\"")
            return nil
        }
        let interval = max(triggerDelay_s + integration_PLC / 50, 0.001)
        if case .factor(let factor) = speed { try? await Task.sleep(for: .seconds(interval / factor)) }
        guard outputOn else {
            // The interlock switched the output off during the trigger delay: the reading is abandoned.
            errors.append("803,\"Output disabled\"")
            return nil
        }
        let reading: InstrumentSample
        var status: Int
        if sourceFunction == "VOLT" {
            reading = cell.advance(
                by: interval, holding: voltageLevel_V, versus: .counter, compliance_A: currentCompliance_A,
                guess_A: latestCurrent_A)
            status = 1 << 14 | 1 << 12 | 1 << 11  // voltage source, current and voltage measured
            if abs(reading.current_A) >= currentCompliance_A * (1 - 1e-9) { status |= 1 << 3 }
        } else {
            reading = cell.advance(by: interval, current_A: currentLevel_A)
            status = 1 << 15 | 1 << 11  // current source, voltage measured
        }
        latestCurrent_A = reading.current_A
        time_s += interval
        readingsSent += 1
        var voltage = reading.voltage_V
        if remoteSense { status |= 1 << 22 }
        if abs(voltage) > compliance_V {
            voltage = voltage > 0 ? compliance_V : -compliance_V
            status |= 1 << 3
        }
        let values: [String: Double] = [
            "VOLT": voltage, "CURR": reading.current_A, "RES": 9.91e37, "TIME": clock_s, "STAT": Double(status),
        ]
        return elements.map { Self.scientific(values[$0]!) }.joined(separator: ",")
    }

    private func reset() {
        outputOn = false
        outputOffState = "NORM"
        sourceFunction = "VOLT"
        currentLevel_A = 0
        voltageLevel_V = 0
        currentCompliance_A = 105e-6
        compliance_V = 21
        remoteSense = false
        elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
        triggerDelay_s = 0
    }

    private func rangeError() -> String? {
        errors.append("-222,\"Parameter data out of range\"")
        return nil
    }

    private func parseSwitch(_ text: String) -> Bool? {
        switch text.uppercased() {
        case "ON", "1": true
        case "OFF", "0": false
        default: nil
        }
    }

    /// Keywords in their documented long form; the short form is the leading upper-case part.
    private static let keywords = [
        "SOURce", "SENSe", "CURRent", "VOLTage", "FUNCtion", "MODE", "RANGe", "LEVel", "PROTection", "NPLCycles",
        "SYSTem", "ERRor", "NEXT", "RSENse", "FORMat", "ELEMents", "DATA", "OUTPut", "SMODe", "STATe", "CLEar",
        "AUTO", "TRIGger", "COUNt", "DELay", "READ", "MEASure", "ABORt", "HIMPedance", "NORMal", "ZERO",
        "GUARd", "RESistance", "RESet", "TIME", "STATus", "INTerlock", "ENABle", "TRIPped",
    ]

    /// `:sour:curr:lev:imm:ampl` -> `SOUR:CURR:LEV`; nil for an unknown keyword.
    static func canonicalPath(_ header: String) -> String? {
        if header.hasPrefix("*") { return header }
        var parts: [String] = []
        for token in header.split(separator: ":") {
            let word = token.replacingQuotes()
            if word == "IMM" || word == "IMMEDIATE" || word == "AMPL" || word == "AMPLITUDE" { continue }
            guard let keyword = keywords.first(where: { $0.uppercased() == word || shortForm($0) == word }) else {
                return nil
            }
            parts.append(shortForm(keyword))
        }
        return parts.isEmpty ? nil : parts.joined(separator: ":")
    }

    private static func shortForm(_ keyword: String) -> String {
        String(keyword.prefix { $0.isUppercase })
    }

    /// `+1.234567E-04` style, as the 2400 sends numbers.
    static func scientific(_ value: Double) -> String {
        guard value != 0 else { return "+0.000000E+00" }
        var exponent = 0
        var magnitude = abs(value)
        while magnitude >= 10 {
            magnitude /= 10
            exponent += 1
        }
        while magnitude < 1 {
            magnitude *= 10
            exponent -= 1
        }
        var digits = Int((magnitude * 1_000_000).rounded())
        if digits >= 10_000_000 {
            digits /= 10
            exponent += 1
        }
        let fraction = String(digits % 1_000_000)
        let exponentText = String(abs(exponent))
        return (value < 0 ? "-" : "+") + "\(digits / 1_000_000)."
            + String(repeating: "0", count: 6 - fraction.count) + fraction + "E" + (exponent < 0 ? "-" : "+")
            + (exponentText.count == 1 ? "0" : "") + exponentText
    }
}

extension StringProtocol {
    fileprivate func trimmingBlanks() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }

    fileprivate func replacingQuotes() -> String {
        String(filter { $0 != "\"" })
    }
}
