public import Domain
import Foundation
public import Simulation
public import Transport

/// A PalmSens MethodSCRIPT instrument (EmStat4 by default) simulated at the byte level, driven by a cell model.
///
/// Written from the command-set description (online commands `t v i e l r Z Y h H`, script loading and
/// validation, the output stream grammar and the data-package encoding), not from the driver. It interprets
/// the script subset a battery rig needs: variables, settings, `cell_on`/`cell_off`, timers, packages,
/// `send_string`, `meas_loop_cp`, `meas_loop_ocp`, `if`/`breakloop` and `on_finished:`; while a script runs
/// it answers `Z` (abort), `Y` (leave the loop), `h`/`H` (halt/resume). Cell time advances only inside
/// measurement loops, by the loop interval per point.
///
/// Like the instrument, it ignores input for 50 ms (wall time) after sending any line that contains `!` (an error
/// reply or a runtime error): bytes that arrive meanwhile are dropped, so a host that answers an error at once is
/// not heard. Lines already received before the reply are still carried out.
public actor MethodScriptSimulator: WireSimulator {
    /// What the simulated instrument says about itself.
    public struct Device: Sendable, Hashable {
        /// Six characters: `es4_hr`, `es4_lr`, `nexus1`, `espico`.
        public var deviceID: String
        public var firmware: String
        public var serialNumber: String
        public var methodScriptVersion: String
        /// How long it ignores input after a reply containing `!`: at least 50 ms, the manual says.
        public var errorHoldOff: Duration

        public init(
            deviceID: String, firmware: String, serialNumber: String, methodScriptVersion: String = "1.8",
            errorHoldOff: Duration = .milliseconds(50)
        ) {
            self.deviceID = deviceID
            self.firmware = firmware
            self.serialNumber = serialNumber
            self.methodScriptVersion = methodScriptVersion
            self.errorHoldOff = errorHoldOff
        }

        public static let emStat4HR = Device(
            deviceID: "es4_hr", firmware: "1100#Jan 28 2022 11:04:43", serialNumber: "ES4HR-SIM-0001")
    }

    /// Faults to inject, counted in data packages sent since the simulator started.
    public struct Faults: Sendable, Hashable {
        /// Stop the running script with `!0032` (critical overload) after this many packages; the cell stays on.
        public var overloadAfterPackages: Int?
        /// Close the port (an unplugged instrument) after this many packages, once the host has read them: an
        /// unplug between two packages, so every package sent reached the host.
        public var hangUpAfterPackages: Int?
        /// Send a stray XON byte when serving starts, as an EmStat Pico does.
        public var strayXONOnStart: Bool
        /// Send the potential (`ab`) of the package with this number (from 1) as `nan`, as an instrument does for a
        /// reading it could not make.
        public var nanPotentialInPackage: Int?
        /// Set the overload bit in the status of the current (`ba`) of the package with this number (from 1); the
        /// value is still sent.
        public var overloadStatusInPackage: Int?

        public init(
            overloadAfterPackages: Int? = nil, hangUpAfterPackages: Int? = nil, strayXONOnStart: Bool = false,
            nanPotentialInPackage: Int? = nil, overloadStatusInPackage: Int? = nil
        ) {
            self.overloadAfterPackages = overloadAfterPackages
            self.hangUpAfterPackages = hangUpAfterPackages
            self.strayXONOnStart = strayXONOnStart
            self.nanPotentialInPackage = nanPotentialInPackage
            self.overloadStatusInPackage = overloadStatusInPackage
        }
    }

    private enum Outcome {
        case completed
        case broken
        case aborted
        case runtimeError(code: Int, line: Int)
    }

    private let device: Device
    private let speed: SimulationSpeed
    private let faults: Faults
    private var cell: any CellModel
    private var cellTime_s = 0.0
    private var cellIsOn = false
    /// The current the latest chronopotentiometry loop set; it flows while the cell is on, between points too.
    private var appliedCurrent_A = 0.0
    private var loadedScript: MethodScriptProgram?
    private var running: Task<Void, Never>?
    private var abortRequested = false
    private var leaveLoopRequested = false
    private var halted = false
    /// Set when the simulator's own end of the port is gone: a running script stops producing output.
    private var portGone = false
    private var packagesSent = 0
    private var packagesSentWithCellOn = 0
    private var transport: (any ByteTransport)?
    /// Until when input is ignored, after a line containing `!`.
    private var ignoringInputUntil: ContinuousClock.Instant?
    private var ignoredInputBytes = 0

    public init(
        cell: some CellModel, device: Device = .emStat4HR, speed: SimulationSpeed = .unlimited,
        faults: Faults = Faults()
    ) {
        self.cell = cell
        self.device = device
        self.speed = speed
        self.faults = faults
    }

    /// The cell model's recorded onsets.
    public var groundTruth: [GroundTruthEvent] { cell.groundTruth }
    /// Whether the simulated cell is switched on (current flowing).
    public var isCellOn: Bool { cellIsOn }
    /// Data packages (samples) sent since the simulator started: its side of a sample count.
    public var sentSampleCount: Int { packagesSent }
    /// Data packages sent while the cell was on (galvanostatic steps, not open-circuit measurements).
    public var sentSampleCountWithCellOn: Int { packagesSentWithCellOn }
    /// Bytes the host sent while the instrument ignored input after an error reply.
    public var ignoredByteCount: Int { ignoredInputBytes }

    /// Cell time the simulator has run so far, in seconds (a clock other simulators can follow).
    public var elapsedCellTime_s: Double { cellTime_s }

    public func serve(on transport: any ByteTransport) async {
        self.transport = transport
        if faults.strayXONOnStart { await emit([0x11]) }
        var reader = SimulatorLineReader(LineFramer.Configuration(terminator: .lf, maxLineLength: 128))
        var loading: (lines: [String], execute: Bool)?
        while let output = await reader.next(
            from: transport, ignoring: { [self] bytes in await self.ignoresInput(bytes) })
        {
            guard case .line(let line) = output else {
                if loading != nil {
                    loading = nil
                    await emit("e!4004: Line 1, Col 1")
                }
                continue
            }
            if var script = loading {
                if line.isEmpty {
                    loading = nil
                    await finishLoading(script.lines, execute: script.execute)
                } else {
                    script.lines.append(line)
                    loading = script
                }
                continue
            }
            if running != nil {
                await handleWhileRunning(line)
                continue
            }
            switch line {
            case "": continue
            case "t": await emit("t\(device.deviceID)\(device.firmware)\nR*")
            case "v": await emit("v\(device.methodScriptVersion)")
            case "i": await emit("i\(device.serialNumber)")
            case "e": loading = ([], true)
            case "l": loading = ([], false)
            case "r":
                if let program = loadedScript {
                    await emit("r")
                    startRunning(program)
                } else {
                    await emit("r!000C")
                }
            default: await emit("\(line.first!)!" + (["Z", "Y", "h", "H"].contains(line) ? "0006" : "0003"))
            }
        }
        running?.cancel()
        await running?.value
    }

    private func handleWhileRunning(_ line: String) async {
        switch line {
        case "Z":
            abortRequested = true
            await emit("Z")
        case "Y":
            leaveLoopRequested = true
            await emit("Y")
        case "h":
            halted = true
            await emit("h")
        case "H":
            halted = false
            await emit("H")
        case "": break
        default: await emit("\(line.first!)!0006")
        }
    }

    private func finishLoading(_ lines: [String], execute: Bool) async {
        let letter = execute ? "e" : "l"
        do {
            let program = try MethodScriptProgram(lines: lines)
            loadedScript = program
            await emit(letter)
            if execute { startRunning(program) }
        } catch {
            await emit("\(letter)!\(hex4(error.code)): Line \(error.line), Col \(error.column)")
        }
    }

    private func startRunning(_ program: MethodScriptProgram) {
        abortRequested = false
        halted = false
        leaveLoopRequested = false
        running = Task { await self.run(program) }
    }

    private func run(_ program: MethodScriptProgram) async {
        var variables: [String: (type: String, value: Double)] = [:]
        var timerStart_s = cellTime_s
        var package: [String]?
        let outcome = await execute(program.main, variables: &variables, timerStart: &timerStart_s, package: &package)
        // The instrument is idle again before its last line leaves, so a host reacting to it sees an idle device.
        if case .runtimeError(let code, let line) = outcome {
            running = nil
            await emit("!\(hex4(code)): Line \(line)")
        } else {
            _ = await execute(program.finished, variables: &variables, timerStart: &timerStart_s, package: &package)
            running = nil
            await emit("")
        }
    }

    private func execute(
        _ statements: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?
    ) async -> Outcome {
        for statement in statements {
            switch statement.kind {
            case .setting: break
            case .cellOn: cellIsOn = true
            case .cellOff:
                cellIsOn = false
                appliedCurrent_A = 0
            case .timerStart: timerStart = cellTime_s
            case .timerGet(let name): variables[name] = ("eb", cellTime_s - timerStart)
            case .packageStart: package = []
            case .packageAdd(let name):
                guard let variable = variables[name] else { return .runtimeError(code: 0x0010, line: statement.line) }
                let number = packagesSent + 1
                let value = variable.type == "ab" && faults.nanPotentialInPackage == number ? .nan : variable.value
                let overload = variable.type == "ba" && faults.overloadStatusInPackage == number
                package?.append(
                    variable.type + Self.encode(value)
                        + Self.metadata(type: variable.type, value: value, forcingOverload: overload))
            case .packageEnd:
                if let fields = package { await emit("P" + fields.joined(separator: ";")) }
                package = nil
                packagesSent += 1
                if cellIsOn { packagesSentWithCellOn += 1 }
                if let limit = faults.hangUpAfterPackages, packagesSent >= limit {
                    await waitUntilHostHasReadEverything()
                    await transport?.close()
                    return .aborted
                }
                if let limit = faults.overloadAfterPackages, packagesSent >= limit {
                    return .runtimeError(code: 0x0032, line: statement.line)
                }
            case .sendString(let text): await emit("T" + text)
            case .breakLoop: return .broken
            case .condition(let name, let comparison, let threshold, let body):
                guard let value = variables[name]?.value else {
                    return .runtimeError(code: 0x0010, line: statement.line)
                }
                if Self.holds(value, comparison, threshold) {
                    let outcome = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
                    if case .completed = outcome { continue }
                    return outcome
                }
            case .loop(let name, let comparison, let threshold, let body):
                await emit("L")
                while true {
                    guard let value = variables[name]?.value else {
                        return .runtimeError(code: 0x0010, line: statement.line)
                    }
                    guard Self.holds(value, comparison, threshold) else { break }
                    let outcome = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
                    if case .completed = outcome {
                        if abortRequested || portGone { return .aborted }
                        continue
                    }
                    if case .broken = outcome { break }
                    return outcome
                }
                await emit("+")
            case .measure(let integration, let name, let type):
                let reading = cell.advance(by: integration, current_A: cellIsOn ? appliedCurrent_A : 0)
                cellTime_s += integration
                switch type {
                case "ab": variables[name] = (type, reading.voltageWERE_V ?? reading.voltage_V)
                case "ag": variables[name] = (type, reading.voltage_V)
                case "ba": variables[name] = (type, reading.current_A)
                default: return .runtimeError(code: 0x001B, line: statement.line)
                }
            case .chronopotentiometry(let potential, let current, let current_A, let interval, let duration, let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await measurementLoop(
                    technique: "000A", interval_s: interval, duration_s: duration, current_A: current_A, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { reading, variables in
                    // `ab` is WE vs RE: the cell voltage when RE is wired to CE (a model without a reference).
                    variables[potential] = ("ab", reading.voltageWERE_V ?? reading.voltage_V)
                    variables[current] = ("ba", reading.current_A)
                }
                if case .completed = outcome { continue }
                return outcome
            case .openCircuitPotential(let potential, let interval, let duration, let body):
                if cellIsOn { return .runtimeError(code: 0x0014, line: statement.line) }
                let outcome = await measurementLoop(
                    technique: "000B", interval_s: interval, duration_s: duration, current_A: 0, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { reading, variables in
                    variables[potential] = ("ab", reading.voltageWERE_V ?? reading.voltage_V)
                }
                if case .completed = outcome { continue }
                return outcome
            case .potentiostatic(
                let potential, let current, let program, let interval, let duration, let technique, let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await potentialLoop(
                    technique: technique, program: program, interval_s: interval, duration_s: duration, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { target, reading, variables in
                    variables[potential] = ("da", target)
                    variables[current] = ("ba", reading.current_A)
                }
                if case .completed = outcome { continue }
                return outcome
            case .impedance(
                let galvanostatic, let frequency, let real, let imaginary, _, let start, let end, let points, _,
                let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await impedanceLoop(
                    technique: galvanostatic ? "000E" : "000D", frequencies_Hz: Self.sweep(start, end, points),
                    body: body, variables: &variables, timerStart: &timerStart, package: &package
                ) { frequency_Hz, impedance, variables in
                    variables[frequency] = ("dc", frequency_Hz)
                    variables[real] = ("cc", impedance.real)
                    variables[imaginary] = ("cd", impedance.imaginary)
                }
                if case .completed = outcome { continue }
                return outcome
            }
            if abortRequested || portGone { return .aborted }
        }
        return .completed
    }

    private func measurementLoop(
        technique: String, interval_s: Double, duration_s: Double, current_A: Double,
        body: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?,
        store: (CellReading, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        await emit("M" + technique)
        appliedCurrent_A = cellIsOn ? current_A : 0
        var elapsed = 0.0
        var outcome = Outcome.completed
        while elapsed + interval_s <= duration_s * (1 + 1e-12), !abortRequested, !leaveLoopRequested, !portGone {
            await pace(cellSeconds: interval_s)
            if abortRequested || Task.isCancelled { break }
            let reading = cell.advance(by: interval_s, current_A: cellIsOn ? current_A : 0)
            cellTime_s += interval_s
            elapsed += interval_s
            store(reading, &variables)
            let result = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
            if case .completed = result { continue }
            if case .broken = result { break }
            outcome = result
            break
        }
        leaveLoopRequested = false
        if case .runtimeError = outcome { return outcome }
        await emit("*")
        return abortRequested ? .aborted : .completed
    }

    /// One iteration per point of a potentiostatic loop: the cell is held at the programmed potential over the
    /// interval (WE against the RE input, which is the cell voltage when RE is wired to CE), and the current it
    /// draws is what the point reports.
    private func potentialLoop(
        technique: String, program: PotentialProgram, interval_s: Double, duration_s: Double,
        body: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?,
        store: (Double, CellReading, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        await emit("M" + technique)
        var elapsed = 0.0
        var outcome = Outcome.completed
        while elapsed + interval_s <= duration_s * (1 + 1e-12), !abortRequested, !leaveLoopRequested, !portGone {
            await pace(cellSeconds: interval_s)
            if abortRequested || Task.isCancelled { break }
            let target = program.potential(atElapsed: elapsed + interval_s)
            let reading = cell.advance(
                by: interval_s, holding: target, versus: .reference, compliance_A: Self.largestCurrent_A,
                guess_A: appliedCurrent_A)
            appliedCurrent_A = reading.current_A
            cellTime_s += interval_s
            elapsed += interval_s
            store(target, reading, &variables)
            let result = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
            if case .completed = result { continue }
            if case .broken = result { break }
            outcome = result
            break
        }
        leaveLoopRequested = false
        if case .runtimeError = outcome { return outcome }
        await emit("*")
        return abortRequested ? .aborted : .completed
    }

    /// The largest current the simulated instrument drives under potential control (the EmStat4 HR's top range).
    static let largestCurrent_A = 0.1

    /// One iteration per frequency: each point takes `ImpedanceSettings.pointDuration_s` of cell time at zero DC
    /// current, then the model's impedance at that frequency is stored for the body.
    private func impedanceLoop(
        technique: String, frequencies_Hz: [Double], body: [MethodScriptProgram.Statement],
        variables: inout [String: (type: String, value: Double)], timerStart: inout Double, package: inout [String]?,
        store: (Double, Complex, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        await emit("M" + technique)
        var outcome = Outcome.completed
        for frequency in frequencies_Hz where !abortRequested && !leaveLoopRequested && !portGone {
            let duration = ImpedanceSettings.pointDuration_s(atFrequency: frequency)
            await pace(cellSeconds: duration)
            if abortRequested || Task.isCancelled { break }
            _ = cell.advance(by: duration, current_A: 0)
            cellTime_s += duration
            store(frequency, cell.impedance(atFrequencies: [frequency])[0], &variables)
            let result = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
            if case .completed = result { continue }
            if case .broken = result { break }
            outcome = result
            break
        }
        leaveLoopRequested = false
        if case .runtimeError = outcome { return outcome }
        await emit("*")
        return abortRequested ? .aborted : .completed
    }

    /// `count` log-spaced frequencies from `start` to `end`, both included.
    static func sweep(_ start: Double, _ end: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return [start] }
        let ratio = log10(end / start)
        let step = ratio / Double(count - 1)
        return (0..<count).map { index in start * pow(10.0, step * Double(index)) }
    }

    private static func holds(_ value: Double, _ comparison: String, _ threshold: Double) -> Bool {
        switch comparison {
        case ">": value > threshold
        case "<": value < threshold
        case ">=": value >= threshold
        default: value <= threshold
        }
    }

    /// Waits before a point: in step with the host at unlimited speed, else `cellSeconds` scaled by the speed;
    /// then as long as the script is halted.
    private func pace(cellSeconds: Double) async {
        switch speed {
        case .unlimited: await waitForHostToCatchUp()
        case .factor(let factor): try? await Task.sleep(for: .seconds(cellSeconds / factor))
        }
        while halted, !abortRequested, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
    }

    /// Waits until the host has read what was sent (the unread byte count on its side reaches 0): paces the
    /// simulator at unlimited speed.
    private func waitForHostToCatchUp() async {
        guard let backlogReporting = transport as? any OutputBacklogReporting else {
            await Task.yield()
            return
        }
        var pause = Duration.milliseconds(1)
        while await backlogReporting.unreadOutputByteCount() > 0, !abortRequested, !portGone, !Task.isCancelled {
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
    }

    /// Waits until the host has surely read everything sent, before an unplug. The kernel hands written bytes to
    /// the host's side asynchronously (a kernel worker moves them), so an empty queue right after a write can mean
    /// "not there yet" as well as "read": the queue must be seen empty five times over 250 ms, longer than a loaded
    /// machine keeps that worker waiting (30 ms was not: a package was lost with the hang-up under load).
    private func waitUntilHostHasReadEverything() async {
        guard let backlogReporting = transport as? any OutputBacklogReporting else { return }
        var emptyChecks = 0
        while emptyChecks < 5, !abortRequested, !portGone, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
            emptyChecks = await backlogReporting.unreadOutputByteCount() > 0 ? 0 : emptyChecks + 1
        }
    }

    private func emit(_ line: String) async {
        if line.contains("!") { ignoringInputUntil = ContinuousClock.now.advanced(by: device.errorHoldOff) }
        await emit(Array((line + "\n").utf8))
    }

    /// Whether bytes arriving now fall in the hold-off after an error reply (and are therefore dropped).
    private func ignoresInput(_ bytes: [UInt8]) -> Bool {
        guard let until = ignoringInputUntil, ContinuousClock.now < until else { return false }
        ignoredInputBytes += bytes.count
        return true
    }

    private func emit(_ bytes: [UInt8]) async {
        guard !portGone else { return }
        do {
            try await transport?.send(bytes)
        } catch {
            portGone = true
        }
    }

    /// Seven hex digits holding the count plus 2^27 and the prefix, with the finest prefix whose count fits.
    static func encode(_ value: Double) -> String {
        guard value.isFinite else { return "     nan" }
        if value == 0 { return "8000000 " }
        let prefixes: [(Character, Double)] = [
            ("a", 1e-18), ("f", 1e-15), ("p", 1e-12), ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), (" ", 1), ("k", 1e3),
            ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
        ]
        for (prefix, factor) in prefixes {
            let count = (value / factor).rounded()
            if abs(count) <= 0x7FF_FFFF {
                let digits = String(Int(count) + 0x800_0000, radix: 16, uppercase: true)
                return String(repeating: "0", count: 7 - digits.count) + digits + String(prefix)
            }
        }
        return "     nan"
    }

    /// Status and current range for current variables (EmStat4 range indices: 9 = 100 nA ... 27 = 100 mA).
    static func metadata(type: String, value: Double, forcingOverload: Bool = false) -> String {
        guard type == "ba" else { return "" }
        let ranges: [(Int, Double)] = [
            (9, 1e-7), (12, 1e-6), (15, 1e-5), (18, 1e-4), (21, 1e-3), (24, 1e-2), (27, 1e-1),
        ]
        let index = ranges.first { abs(value) <= $0.1 }?.0 ?? 27
        let overload = abs(value) > 0.1 || forcingOverload ? 2 : 0
        return ",1\(overload),2" + String(format2Hex: index)
    }

    private func hex4(_ code: Int) -> String {
        let digits = String(code, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension String {
    fileprivate init(format2Hex value: Int) {
        let digits = String(value, radix: 16, uppercase: true)
        self = digits.count == 1 ? "0" + digits : digits
    }
}
