import Domain
import Engine
import ProtocolFiles
import Simulation
import TestSupport

/// Runs a shipped protocol file to its end on a physics cell, the engine's commands driving the cell's current,
/// as the daemon would but without I/O. Returns every event, the finished engine and the cell.
func runShippedProtocol(
    _ path: String, parameters: [String: String] = [:], cell initialCell: PhysicsCell, context: RunContext
) throws -> (events: [RunEvent], engine: RunEngine, cell: PhysicsCell, interval_s: Double) {
    let testProtocol = try ProtocolFile.parse(
        try TestSupport.readRepositoryFile(path), file: path, parameters: parameters)
    return try runProtocol(testProtocol, cell: initialCell, context: context)
}

/// Runs a parsed protocol to its end on a physics cell, as `runShippedProtocol` does.
func runProtocol(
    _ testProtocol: TestProtocol, cell initialCell: PhysicsCell, context: RunContext
) throws -> (events: [RunEvent], engine: RunEngine, cell: PhysicsCell, interval_s: Double) {
    var cell = initialCell
    var engine = try RunEngine(
        protocol: testProtocol, area_cm2: cell.parameters.electrodeArea_cm2, context: context)
    var current_A = 0.0
    var events: [RunEvent] = []
    func apply(_ output: EngineOutput) {
        events += output.events
        for command in output.commands { current_A = command.cellCurrent(after: current_A) }
    }
    apply(engine.start(at: 0))
    while !engine.isFinished {
        apply(engine.ingest(cell.advance(by: testProtocol.samplingInterval_s, current_A: current_A)))
    }
    return (events, engine, cell, testProtocol.samplingInterval_s)
}
