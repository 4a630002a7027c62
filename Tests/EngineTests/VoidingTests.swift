import Domain
import Engine
import ProtocolFiles
import Simulation
import TestSupport
import Testing

@Suite("voiding on the K preset's three-electrode stripping series (protocols/stripping-3e.yaml)")
struct VoidingTests {
    /// Runs the shipped stripping protocol at a current density on a simulated three-electrode K cell.
    func strippingSeries(_ density: String) throws -> (events: [RunEvent], engine: RunEngine) {
        let run = try runShippedProtocol(
            "protocols/stripping-3e.yaml", parameters: ["current_density": density],
            cell: try PhysicsCell(preset: "k-beta-alumina", overrides: ["threeElectrode": 1]),
            context: RunContext(metal: .k, metalThickness_um: 300))
        return (run.events, run.engine)
    }

    @Test("voiding is flagged at 3 mA/cm2, in the first strip")
    func voidsAtThree() throws {
        let (events, engine) = try strippingSeries("3 mA/cm2")
        #expect(engine.outcome?.state == .completed, "voiding warns; the test runs its 25 cycles")
        let results = RunResults(events: events, plan: engine.plan)
        let atThree = try #require(results.voiding.first)
        #expect(atThree.currentDensity_mA_cm2 == 3)
        #expect(atThree.strippingSteps == 25)
        #expect(atThree.voided)
        let first = try #require(atThree.firstVerdict)
        #expect(first.action == .warn)
        #expect(first.evidence["cycle"] == 1)
        #expect(first.evidence["rise_V"]! >= first.evidence["rise_threshold_V"]!)
    }

    @Test("voiding is not flagged at 1 mA/cm2")
    func noVoidingAtOne() throws {
        let (events, engine) = try strippingSeries("1 mA/cm2")
        #expect(engine.outcome?.state == .completed)
        let results = RunResults(events: events, plan: engine.plan)
        #expect(results.voiding.map(\.currentDensity_mA_cm2) == [1])
        #expect(results.voiding.first?.voided == false)
        #expect(!events.contains { $0.verdict?.criterion == "voiding" })
    }
}
