import Control
import Domain
import Foundation
import ProtocolFiles
import Storage
import TestSupport
import Testing

@testable import Daemon

/// End-of-strip WE-RE polarisation per cycle, and early in the first strip, from a stored run.
struct StrippingProfile {
    var earlyFirstStrip_mV: Double
    var endOfStrip_mV: [Int: Double]

    init(store: RunStore, runID: Int64) throws {
        let stripSteps = Set(try store.steps(runID: runID).filter { $0.kind == "strip" }.map(\.index))
        var end: [Int: Double] = [:]
        var firstStrip: [InstrumentSample] = []
        var firstStripIndex: Int?
        try store.forEachSample(runID: runID) { recorded in
            guard stripSteps.contains(recorded.stepIndex), let weRe = recorded.sample.voltageWERE_V else { return }
            end[recorded.cycle] = weRe * 1e3
            if firstStripIndex == nil { firstStripIndex = recorded.stepIndex }
            if recorded.stepIndex == firstStripIndex { firstStrip.append(recorded.sample) }
        }
        endOfStrip_mV = end
        // "Early" is 10 % into the first strip, past the current-step transient.
        earlyFirstStrip_mV = (firstStrip[firstStrip.count / 10].voltageWERE_V ?? 0) * 1e3
    }
}

@Suite("Simulated cells through the daemon")
struct SimulatedCellRunTests {
    @Test("the stripping test on the K preset shows the seed-000 voiding pattern at 1, 2 and 3 mA/cm2")
    func strippingSeries() async throws {
        let running = try await RunningDaemon.start()
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        var profiles: [Double: StrippingProfile] = [:]
        for density in [1.0, 2.0, 3.0] {
            let started = try await running.startRun(
                "protocols/stripping-3e.yaml", parameters: ["current_density": "\(formatNumber(density)) mA/cm2"])
            let final = try await running.waitForEnd(started.id)
            #expect(final.state == "completed", "\(final.reason ?? "")")
            profiles[density] = try StrippingProfile(store: store, runID: started.id)
        }
        await running.stop()

        let seed: [Double: String] = [
            1: "flat", 2: "43 -> 54 (cycle 25)", 3: "70 -> 120 within strip 1; 149 at cycle 25",
        ]
        print("end-of-strip WE-RE polarisation, K preset, 2.5 MPa, 20 C (mV)")
        print("mA/cm2  early strip 1  end strip 1  end strip 25   seed 000")
        for density in [1.0, 2.0, 3.0] {
            let profile = try #require(profiles[density])
            print(
                "\(formatNumber(density))       \(formatNumber(profile.earlyFirstStrip_mV, significantDigits: 4))"
                    + "          \(formatNumber(profile.endOfStrip_mV[1] ?? .nan, significantDigits: 4))"
                    + "        \(formatNumber(profile.endOfStrip_mV[25] ?? .nan, significantDigits: 4))"
                    + "          \(seed[density]!)")
        }

        let one = try #require(profiles[1])
        let two = try #require(profiles[2])
        let three = try #require(profiles[3])
        let oneFirst = try #require(one.endOfStrip_mV[1])
        let oneLast = try #require(one.endOfStrip_mV[25])
        let twoFirst = try #require(two.endOfStrip_mV[1])
        let twoLast = try #require(two.endOfStrip_mV[25])
        let threeFirst = try #require(three.endOfStrip_mV[1])
        let threeLast = try #require(three.endOfStrip_mV[25])
        // 1 mA/cm2: flat within the strip and over 25 cycles.
        #expect(abs(oneFirst - one.earlyFirstStrip_mV) < 2)
        #expect(abs(oneLast - oneFirst) < 2)
        // 2 mA/cm2: a slight rise, near the seed's 43 mV start.
        #expect(twoFirst > 35 && twoFirst < 55)
        #expect(twoLast > oneLast && twoLast - twoFirst > 0 && twoLast - twoFirst < 15)
        #expect(twoFirst - two.earlyFirstStrip_mV < 15)
        // 3 mA/cm2: a strong rise within the first strip and further over 25 cycles.
        #expect(threeFirst - three.earlyFirstStrip_mV > 30)
        #expect(threeLast - threeFirst > 15)
        #expect(threeFirst > 90 && threeLast > 120)
    }

    @Test("the seed CCD protocol on the K preset stops at its short, within 0.1 mA/cm2 of 4.8, and shows the truth")
    func ccdOnPhysicsCell() async throws {
        let running = try await RunningDaemon.start()
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml")
        let final = try await running.waitForEnd(started.id)
        await running.stop()
        #expect(final.state == "stopped")
        let ccd = try #require(final.ccd_mA_cm2)
        #expect(abs(ccd - 4.8) <= 0.1, "the K preset's dendrites start at 4.8 mA/cm2; found \(ccd)")
        let stop = try #require(final.verdicts.first { $0.action == "stop" })
        #expect(stop.criterion == "dendrite-short" || stop.criterion == "hard-short")
        #expect(final.results?.ccd?.criterion == stop.criterion)
        let initiation = try #require(final.truth?.first { $0.kind == "dendrite-initiation" })
        #expect(abs(initiation.current_density_mA_cm2 - 4.8) < 1e-9)
        #expect(stop.time_s >= initiation.time_s, "no stop before the true onset")
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        #expect(try store.groundTruth(runID: started.id).contains { $0.kind == .dendriteInitiation })
    }

    @Test("two runs with the same seed store identical samples")
    func sameSeed() async throws {
        let running = try await RunningDaemon.start()
        let parameters = ["current_density": "3 mA/cm2"]
        var runs: [[RecordedSample]] = []
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        for _ in 0..<2 {
            let started = try await running.startRun("protocols/stripping-3e.yaml", parameters: parameters)
            _ = try await running.waitForEnd(started.id)
            var samples: [RecordedSample] = []
            try store.forEachSample(runID: started.id) { samples.append($0) }
            runs.append(samples)
        }
        await running.stop()
        #expect(runs[0].count > 1000)
        #expect(runs[0] == runs[1])
    }

    @Test("a different seed gives different samples")
    func otherSeed() async throws {
        var rig = try DaemonConfiguration.embeddedSimulatedRig()
        guard case .simulated(var configuration) = rig.galvanostat else { throw CancellationError() }
        configuration.seed = 2
        rig.galvanostat = .simulated(configuration)
        rig.id = "sim2"
        let running = try await RunningDaemon.start(rigs: [try DaemonConfiguration.embeddedSimulatedRig(), rig])
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        var firstVoltages: [[Double]] = []
        for rigID in ["sim", "sim2"] {
            let started = try await running.startRun(
                "protocols/stripping-3e.yaml", rig: rigID, parameters: ["current_density": "3 mA/cm2"])
            _ = try await running.waitForEnd(started.id)
            var voltages: [Double] = []
            try store.forEachSample(runID: started.id) { if $0.seq < 500 { voltages.append($0.sample.voltage_V) } }
            firstVoltages.append(voltages)
        }
        await running.stop()
        #expect(firstVoltages[0].count == 500)
        #expect(firstVoltages[0] != firstVoltages[1])
    }

    @Test("a physics parameter the model does not know stops the rig from loading, with its line")
    func unknownParameter() throws {
        let text = try TestSupport.readRepositoryFile("rigs/sim.yaml") + "  parameters:\n    dendriteCD_mA_cm2: 4.8\n"
        let error = try #require(throws: FileError.self) {
            try DaemonConfiguration.loadRig(text: text, file: "rigs/sim.yaml")
        }
        #expect(error.line == text.components(separatedBy: "\n").count - 1)
        #expect(error.key == "galvanostat.parameters.dendriteCD_mA_cm2")
        #expect(error.description.contains("dendriteCCD_mA_cm2"))
    }
}
