// cellrig-bench-serial: the serial path (driver + pseudo-terminal transport + engine + storage) under load.
//
// 1. Sustained rate: one rig at a time, its simulator on a pseudo-terminal at unlimited speed (in lock-step with
//    the host, so the instrument's maximum rate is whatever the host sustains); samples stored per wall second,
//    measured over a fixed wall interval of a long CCD run, which is then aborted.
// 2. CPU per rig: several MethodSCRIPT + Mark-10 rigs at 10 samples per second each (1 s sampling at 10 cell
//    seconds per wall second); process CPU time (getrusage) over a fixed wall interval, divided by the rigs. The
//    simulators run in this process too, so the figure is an upper bound for the daemon alone.
// Usage: cellrig-bench-serial [SECONDS] [RIGS]

import Control
import Daemon
import Domain
import Foundation
import Logging
import Simulation
import WireSimulators

let arguments = CommandLine.arguments.dropFirst()
let interval_s = Double(arguments.first ?? "") ?? 10
let rigCount = Int(arguments.dropFirst().first ?? "") ?? 4
let protocolFile = "protocols/ccd-step-symmetric.yaml"
let protocolText = try String(contentsOfFile: protocolFile, encoding: .utf8)

func ohmicCell(seed: UInt64) -> OhmicCell {
    var configuration = SimulatedCellConfiguration()
    configuration.seed = seed
    return OhmicCell(configuration: configuration, area_cm2: 0.196, stackPressure_MPa: 2.5, temperature_C: 20)
}

func rig(id: String, driver: String, port: String, gauge: String?) throws -> RigDescription {
    var text = """
        schema: 1
        id: \(id)
        cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2, stack_pressure: 2.5 MPa}
        limits: {voltage: 5 V, current: 20 mA}
        galvanostat: {driver: \(driver), port: \(port)}

        """
    if let gauge {
        text += "pressure_sensor: {driver: mark10, port: \(gauge), pellet_area: 0.785 cm2, reading_interval: 10 s}\n"
    }
    return try DaemonConfiguration.loadRig(text: text, file: "\(id).yaml")
}

/// A daemon in this process on a scratch directory.
struct BenchDaemon {
    let daemon: CellRigDaemon
    let server: Task<Void, any Error>
    let client: ControlClient
    let directory: URL

    init(rigs: [RigDescription]) async throws {
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent(
            "cellrig-bench-serial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("b.sock").path,
            databasePath: directory.appendingPathComponent("bench.sqlite").path, rigs: rigs)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let daemon = try CellRigDaemon(configuration: configuration, logger: logger)
        self.daemon = daemon
        server = Task { try await daemon.run(signals: []) }
        client = ControlClient(socketPath: configuration.socketPath)
        for _ in 0..<400 {
            if (try? client.request("GET", "/v1/health", as: HealthInfo.self)) != nil { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        fatalError("the daemon did not come up")
    }

    func start(rig: String) throws -> Int64 {
        let request = StartRunRequest(protocol_file: protocolFile, protocol_text: protocolText, rig: rig)
        return try client.request("POST", "/v1/runs", body: request, as: RunStatus.self).id
    }

    func samples(_ runID: Int64) throws -> Int {
        try client.request("GET", "/v1/runs/\(runID)", as: RunStatus.self).samples
    }

    func stop(_ runIDs: [Int64]) async {
        for id in runIDs { _ = try? client.request("POST", "/v1/runs/\(id)/abort", as: RunStatus.self) }
        await daemon.shutdown()
        _ = await server.result
        try? FileManager.default.removeItem(at: directory)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) * 1e-6
}

/// Samples stored per wall second over `interval_s`, after one second of warm-up.
func sustainedRate(driver: String, simulator: some WireSimulator, withGauge: Bool) async throws -> Double {
    let port = try SimulatedPort.start(simulator)
    let gauge = withGauge ? try SimulatedPort.start(Mark10Simulator { 196.25 }) : nil
    let bench = try await BenchDaemon(rigs: [try rig(id: "r", driver: driver, port: port.path, gauge: gauge?.path)])
    let runID = try bench.start(rig: "r")
    try await Task.sleep(for: .seconds(1))
    let clock = ContinuousClock()
    let first = try bench.samples(runID)
    let began = clock.now
    try await Task.sleep(for: .seconds(interval_s))
    let last = try bench.samples(runID)
    let wall = seconds(clock.now - began)
    await bench.stop([runID])
    await port.stop()
    await gauge?.stop()
    return Double(last - first) / wall
}

print("serial path: \(protocolFile), ohmic cell, over \(formatNumber(interval_s)) s of wall time")
let methodScriptRate = try await sustainedRate(
    driver: "methodscript", simulator: MethodScriptSimulator(cell: ohmicCell(seed: 1)), withGauge: true)
print("  MethodSCRIPT + Mark-10, unlimited   \(String(format: "%8.0f", methodScriptRate)) samples/s stored")
let keithleyRate = try await sustainedRate(
    driver: "keithley2400", simulator: Keithley2400Simulator(cell: ohmicCell(seed: 2)), withGauge: false)
print("  Keithley 2400, unlimited            \(String(format: "%8.0f", keithleyRate)) samples/s stored")

// CPU per rig at 10 samples/s.
var ports: [SimulatedPort] = []
var rigs: [RigDescription] = []
for index in 0..<rigCount {
    let port = try SimulatedPort.start(MethodScriptSimulator(cell: ohmicCell(seed: UInt64(index)), speed: .factor(10)))
    let gauge = try SimulatedPort.start(Mark10Simulator { 196.25 })
    ports += [port, gauge]
    rigs.append(try rig(id: "r\(index)", driver: "methodscript", port: port.path, gauge: gauge.path))
}
let bench = try await BenchDaemon(rigs: rigs)
let runIDs = try rigs.map { try bench.start(rig: $0.id) }
try await Task.sleep(for: .seconds(1))
let clock = ContinuousClock()
let firstCounts = try runIDs.map { try bench.samples($0) }
let cpuBefore = processCPUSeconds()
let began = clock.now
try await Task.sleep(for: .seconds(interval_s))
let cpu = processCPUSeconds() - cpuBefore
let wall = seconds(clock.now - began)
let lastCounts = try runIDs.map { try bench.samples($0) }
await bench.stop(runIDs)
for port in ports { await port.stop() }
let rate = Double(zip(lastCounts, firstCounts).map { $0 - $1 }.reduce(0, +)) / wall / Double(rigCount)
print("  \(rigCount) rigs (MethodSCRIPT + Mark-10) at \(String(format: "%.1f", rate)) samples/s each")
print(
    "  CPU per rig                         \(String(format: "%8.2f", 100 * cpu / wall / Double(rigCount))) % of one core (simulators included)"
)
