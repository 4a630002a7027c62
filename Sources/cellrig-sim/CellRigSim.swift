import ArgumentParser
import Domain
import Foundation
import Simulation
import UnixSignals
import WireSimulators

/// `cellrig-sim`: wire-level instrument simulators on pseudo-terminals, for demos and manual tests.
///
/// Serves a PalmSens MethodSCRIPT instrument, a Keithley 2400, a Mark-10 force gauge, a Modbus RTU load cell and a
/// Modbus RTU temperature controller (Eurotherm 3200 map), each on its own pseudo-terminal. The two potentiostats each drive their own physics-model cell; the force
/// instruments read the clamp force that holds the preset's stack pressure on the pellet. Runs until SIGINT or
/// SIGTERM, then removes the links it made. With `--keithley-watchdog` the Keithley's interlock line is held by a
/// simulated watchdog re-armed by host traffic, and every time it switches the output off a line says so.
///
/// The instruments start as real ones do after power-on: the Keithley's clock reads five hours (`--keithley-clock`),
/// the Mark-10 shows pounds-force, and the load cell sends its reading in the byte order `--modbus-byte-order` names.
@main
struct CellRigSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cellrig-sim",
        abstract:
            "Serve simulated instruments (MethodSCRIPT, Keithley 2400, Mark-10, Modbus load cell, temperature "
            + "controller) on PTYs.",
        discussion: """
            Point a rig file's ports at the printed paths, or at the links --link-dir makes (rigs/sim-serial.yaml \
            uses /tmp/cellrig-sim). The Modbus load cell answers at station 1, holding registers 0-1, int32 in the \
            byte order --modbus-byte-order names (ABCD unless told), 0.01 N per count. The temperature controller \
            answers at station 1 with the Eurotherm 3200 map (process value at 1, setpoint at 2, output at 273, \
            0.1 C per count); it powers on with its output off, and its clock follows the MethodSCRIPT cell's.
            """)

    @Option(
        help:
            "Physics-model preset of the simulated cells (\(PhysicsCellParameters.allPresetNames.joined(separator: ", ")))."
    )
    var preset = "k-beta-alumina"

    @Option(help: "`max`, or cell seconds per wall second (1 = real time).")
    var speed = "1"

    @Option(help: "Directory for stable links: methodscript, keithley2400, mark10, modbus, temperature.")
    var linkDir: String?

    @Option(help: "Pellet area in cm2 the clamp force acts on (must match the rig's pressure_sensor.pellet_area).")
    var pelletAreaCm2 = 0.785

    @Option(help: "Working-electrode area in cm2 of the simulated cells (default: the preset's).")
    var electrodeAreaCm2: Double?

    @Flag(help: "The simulated cells have a reference electrode (WE-RE is measured).")
    var threeElectrode = false

    @Option(help: "Stack pressure in MPa the clamp holds (default: the preset's).")
    var stackPressure: Double?

    @Option(help: "Seed of the simulated cells' noise.")
    var seed: UInt64 = 1

    @Option(
        help: ArgumentHelp(
            "Hold the Keithley's interlock line with a watchdog that releases it after this many cell seconds "
                + "without host traffic (default: the line is always held).",
            valueName: "seconds"))
    var keithleyWatchdog: Double?

    @Option(
        help: ArgumentHelp(
            "What the Keithley's TIME element reads at start: seconds since it was switched on (wraps at 99999.999).",
            valueName: "seconds"))
    var keithleyClock = Keithley2400Simulator.defaultClockAtStart_s

    @Option(help: "Byte order of the load cell's int32 reading: ABCD, CDAB, BADC or DCBA.")
    var modbusByteOrder = "ABCD"

    @Option(help: "Time constant of the simulated heated clamp, in cell seconds.")
    var temperatureTimeConstant = 600.0

    @Option(help: "Ambient temperature of the simulated clamp, in C.")
    var ambientTemperature = 22.0

    @Flag(help: "The Mark-10 sends bare numbers (its numeric-only data format) instead of numbers with units.")
    var mark10NumericOnly = false

    func validate() throws {
        _ = try simulationSpeed()
        guard PhysicsCellParameters.allPresetNames.contains(preset) else {
            throw ValidationError(
                "unknown preset '\(preset)'; use one of \(PhysicsCellParameters.allPresetNames.joined(separator: ", "))"
            )
        }
        guard pelletAreaCm2 > 0 else { throw ValidationError("--pellet-area-cm2 must be positive") }
        if let electrodeAreaCm2, !(electrodeAreaCm2 > 0 && electrodeAreaCm2.isFinite) {
            throw ValidationError("--electrode-area-cm2 must be a positive number of cm2")
        }
        if let stackPressure, !(stackPressure > 0 && stackPressure.isFinite) {
            throw ValidationError("--stack-pressure must be a positive number of MPa")
        }
        guard temperatureTimeConstant > 0, temperatureTimeConstant.isFinite else {
            throw ValidationError("--temperature-time-constant must be a positive number of cell seconds")
        }
        guard ModbusLoadCellConfiguration.ByteOrder(rawValue: modbusByteOrder) != nil else {
            throw ValidationError("--modbus-byte-order '\(modbusByteOrder)': use ABCD, CDAB, BADC or DCBA")
        }
        guard keithleyClock >= 0, keithleyClock < Keithley2400Simulator.clockWrap_s else {
            throw ValidationError("--keithley-clock \(keithleyClock): use 0 to 99999.999 seconds")
        }
        if let keithleyWatchdog, !(keithleyWatchdog > 0 && keithleyWatchdog.isFinite) {
            throw ValidationError("--keithley-watchdog \(keithleyWatchdog): use a positive number of cell seconds")
        }
    }

    func simulationSpeed() throws -> SimulationSpeed {
        if speed == "max" { return .unlimited }
        guard let factor = Double(speed), factor > 0, factor.isFinite else {
            throw ValidationError("--speed '\(speed)': use `max` or a positive number of cell seconds per wall second")
        }
        return .factor(factor)
    }

    func cell(seed: UInt64) throws -> PhysicsCell {
        var parameters = try PhysicsCellParameters.preset(named: preset)
        try parameters.override("seed", with: Double(seed))
        if let electrodeAreaCm2 { try parameters.override("electrodeArea_cm2", with: electrodeAreaCm2) }
        if threeElectrode { try parameters.override("threeElectrode", with: 1) }
        return PhysicsCell(parameters: parameters)
    }

    func run() async throws {
        let speed = try simulationSpeed()
        let stackPressure_MPa = try stackPressure ?? PhysicsCellParameters.preset(named: preset).stackPressure_MPa
        let clampForce_N = stackPressure_MPa * pelletAreaCm2 * 100
        let force = ClampForce(mean_N: clampForce_N, seed: seed)
        let keithley = Keithley2400Simulator(
            cell: try cell(seed: seed + 1), speed: speed,
            interlockLine: keithleyWatchdog.map { .watchdog(holdTime: .seconds($0)) } ?? .held,
            clockAtStart_s: keithleyClock)
        let loadCell = ModbusLoadCellSimulator.ForceRegisters(
            stationAddress: 1, register: 0, valueType: .int32,
            byteOrder: ModbusLoadCellConfiguration.ByteOrder(rawValue: modbusByteOrder) ?? .abcd, newtonsPerCount: 0.01)
        let methodScript = MethodScriptSimulator(cell: try cell(seed: seed), speed: speed)
        // The clamp's temperature lives on the MethodSCRIPT cell's clock, so heating keeps pace at any --speed.
        let temperature = TemperatureControllerSimulator(
            map: TemperatureControllerConfiguration(
                preset: .eurotherm3200, line: SerialLineConfiguration(port: "", baudRate: 9600)),
            plant: .init(ambient_C: ambientTemperature, timeConstant_s: temperatureTimeConstant)
        ) { await methodScript.elapsedCellTime_s }
        let ports: [(name: String, port: SimulatedPort)] = [
            ("methodscript", try SimulatedPort.start(methodScript)),
            ("keithley2400", try SimulatedPort.start(keithley)),
            (
                "mark10",
                try SimulatedPort.start(
                    Mark10Simulator(device: .init(unitsInReadings: !mark10NumericOnly)) { await force.read() })
            ),
            ("modbus", try SimulatedPort.start(ModbusLoadCellSimulator(layout: loadCell) { await force.read() })),
            ("temperature", try SimulatedPort.start(temperature)),
        ]
        var links: [String] = []
        if let linkDir {
            try FileManager.default.createDirectory(atPath: linkDir, withIntermediateDirectories: true)
            for (name, port) in ports {
                let link = (linkDir as NSString).appendingPathComponent(name)
                try? FileManager.default.removeItem(atPath: link)
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: port.path)
                links.append(link)
            }
        }
        say(
            "cellrig-sim: preset \(preset), speed \(speed == .unlimited ? "max" : self.speed), clamp force "
                + "\(formatNumber(clampForce_N)) N on \(formatNumber(pelletAreaCm2)) cm2 (\(formatNumber(stackPressure_MPa)) MPa)"
        )
        for (index, (name, port)) in ports.enumerated() {
            let link = links.indices.contains(index) ? "  <- \(links[index])" : ""
            say("\(name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(port.path)\(link)")
        }
        say("Ctrl-C (SIGINT) or SIGTERM stops the simulators.")
        let tripReports = Task { await reportInterlockTrips(of: keithley) }
        for await signal in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
            say("cellrig-sim: \(signal), stopping")
            break
        }
        tripReports.cancel()
        for link in links { try? FileManager.default.removeItem(atPath: link) }
        for (_, port) in ports { await port.stop() }
    }
}

/// Prints a line for every time the Keithley's interlock switched its output off, until cancelled.
func reportInterlockTrips(of keithley: Keithley2400Simulator) async {
    var reported = 0
    while !Task.isCancelled {
        let trips = await keithley.interlockTrips
        for trip in trips.dropFirst(reported) {
            let silence =
                Double(trip.hostSilence.components.seconds)
                + Double(trip.hostSilence.components.attoseconds) * 1e-18
            say(
                "keithley2400: interlock released after \(formatNumber(silence)) s (wall) of host silence; "
                    + "output off (high impedance) after \(trip.readingsBefore) readings")
        }
        reported = trips.count
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// The force a clamp holds on the pellet: the setpoint with a little load-cell noise.
actor ClampForce {
    private let mean_N: Double
    private var generator: SeededGenerator

    init(mean_N: Double, seed: UInt64) {
        self.mean_N = mean_N
        self.generator = SeededGenerator(seed: seed)
    }

    func read() -> Double {
        mean_N * (1 + 0.002 * (Double.random(in: -1...1, using: &generator)))
    }
}

/// Writes a line to standard output at once (unbuffered, so a script reading the paths sees them immediately).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
