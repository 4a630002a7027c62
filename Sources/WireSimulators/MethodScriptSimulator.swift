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
        /// Send the potential of every package from this number (from 1) on as `nan`: a cell whose lead came off.
        public var nanPotentialFromPackage: Int?
        /// Set the overload bit in the status of the current (`ba`) of the package with this number (from 1); the
        /// value is still sent.
        public var overloadStatusInPackage: Int?

        /// Whether the potential of package `number` (from 1) is sent as `nan`.
        func sendsNaNPotential(inPackage number: Int) -> Bool {
            nanPotentialInPackage == number || nanPotentialFromPackage.map { number >= $0 } == true
        }

        public init(
            overloadAfterPackages: Int? = nil, hangUpAfterPackages: Int? = nil, strayXONOnStart: Bool = false,
            nanPotentialInPackage: Int? = nil, nanPotentialFromPackage: Int? = nil, overloadStatusInPackage: Int? = nil
        ) {
            self.overloadAfterPackages = overloadAfterPackages
            self.hangUpAfterPackages = hangUpAfterPackages
            self.strayXONOnStart = strayXONOnStart
            self.nanPotentialInPackage = nanPotentialInPackage
            self.nanPotentialFromPackage = nanPotentialFromPackage
            self.overloadStatusInPackage = overloadStatusInPackage
        }
    }

    enum Outcome {
        case completed
        case broken
        case aborted
        case runtimeError(code: Int, line: Int)
    }

    let device: Device
    let speed: SimulationSpeed
    let faults: Faults
    var cell: any CellModel
    var cellTime_s = 0.0
    var cellIsOn = false
    /// The current the latest chronopotentiometry loop set; it flows while the cell is on, between points too.
    var appliedCurrent_A = 0.0
    var loadedScript: MethodScriptProgram?
    var running: Task<Void, Never>?
    var abortRequested = false
    var leaveLoopRequested = false
    var halted = false
    /// Set when the simulator's own end of the port is gone: a running script stops producing output.
    var portGone = false
    var packagesSent = 0
    var packagesSentWithCellOn = 0
    var transport: (any ByteTransport)?
    /// Until when input is ignored, after a line containing `!`.
    var ignoringInputUntil: ContinuousClock.Instant?
    var ignoredInputBytes = 0

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

    func handleWhileRunning(_ line: String) async {
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

    func finishLoading(_ lines: [String], execute: Bool) async {
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

    func startRunning(_ program: MethodScriptProgram) {
        abortRequested = false
        halted = false
        leaveLoopRequested = false
        running = Task { await self.run(program) }
    }

    func run(_ program: MethodScriptProgram) async {
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

    func emit(_ line: String) async {
        if line.contains("!") { ignoringInputUntil = ContinuousClock.now.advanced(by: device.errorHoldOff) }
        await emit(Array((line + "\n").utf8))
    }

    /// Whether bytes arriving now fall in the hold-off after an error reply (and are therefore dropped).
    func ignoresInput(_ bytes: [UInt8]) -> Bool {
        guard let until = ignoringInputUntil, ContinuousClock.now < until else { return false }
        ignoredInputBytes += bytes.count
        return true
    }

    func emit(_ bytes: [UInt8]) async {
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

    func hex4(_ code: Int) -> String {
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
