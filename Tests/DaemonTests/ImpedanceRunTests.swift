import Control
import Domain
import Foundation
import Simulation
import Storage
import TestSupport
import Testing

@testable import Daemon

@Suite("Impedance steps on the physics rig")
struct ImpedanceRunTests {
    @Test("the shipped EIS protocol: a spectrum of 61 points from 1 MHz to 1 Hz, capacitive, between two rests")
    func shippedProtocolOnPhysicsCell() async throws {
        let running = try await RunningDaemon.start()
        let started = try await running.startRun("protocols/eis-potentiostatic.yaml")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        let spectrum = try store.spectra(runID: started.id).map(\.point)
        #expect(spectrum.count == 61)
        #expect(spectrum.first?.frequency_Hz == 1e6)
        #expect(abs((spectrum.last?.frequency_Hz ?? 0) - 1) < 1e-9)
        // The simulated analyser reads each part with noise of a fraction of |Z|; four of those bound a reading.
        let noise = PhysicsCellParameters.potassiumBetaAlumina.impedanceNoiseFraction
        let margins = spectrum.map { 4 * noise * hypot($0.real_Ohm, $0.imaginary_Ohm) }
        #expect(noise > 0, "the spectrum is read with noise, as an analyser reads it")
        #expect(
            zip(spectrum, margins).allSatisfy { $0.imaginary_Ohm < $1 }, "electrolyte and interfaces are capacitive")
        #expect(spectrum.filter { $0.imaginary_Ohm < 0 }.count > 50)
        // Z' grows as the frequency falls: first the electrolyte alone, then the interfaces add their resistance.
        let real = spectrum.map(\.real_Ohm)
        #expect(zip(zip(real, real.dropFirst()), margins).allSatisfy { $0.0 <= $0.1 + $1 }, "\(real)")
        #expect(Set(real).count == real.count, "noisy readings, not an exact model")
        // The low-frequency limit adds both interfaces: 2 x 21 Ohm cm2 on 0.196 cm2 for K|K-beta''-alumina (seed 000).
        let interfaces_Ohm = real.last! - real.first!
        #expect(abs(interfaces_Ohm - 2 * 21 / 0.196) < 0.1 * 2 * 21 / 0.196, "\(real.first!) -> \(real.last!)")

        let steps = try store.steps(runID: started.id)
        #expect(steps.map(\.kind) == ["rest", "impedance", "rest"])
        #expect(steps[1].startTime_s == steps[0].endTime_s)
        #expect(abs(steps[1].endTime_s! - spectrum.last!.time_s) < 1e-9)
        #expect(spectrum.first!.time_s > steps[1].startTime_s)
        var lastSampleBefore = 0.0
        var firstSampleAfter = Double.infinity
        try store.forEachSample(runID: started.id) { recorded in
            if recorded.stepIndex == 0 { lastSampleBefore = recorded.sample.time_s }
            if recorded.stepIndex == 2 { firstSampleAfter = min(firstSampleAfter, recorded.sample.time_s) }
        }
        #expect(lastSampleBefore < spectrum.first!.time_s && spectrum.last!.time_s < firstSampleAfter)
        let summary = try #require(try await running.status(started.id).spectra?.first)
        #expect(summary.step == 1 && summary.points == 61)
        #expect(summary.first_frequency_Hz == 1e6 && abs(summary.last_frequency_Hz - 1) < 1e-9)
        #expect(summary.real_high_frequency_Ohm == real.first && summary.real_low_frequency_Ohm == real.last)
        let events = try store.events(runID: started.id)
        #expect(events.contains { $0.kind == .impedanceMeasured && $0.message.contains("61 points") })
        // The daemon fits the circuit the step names and stores the fit; status shows the interface per interface.
        let fit = try #require(summary.fit, "the shipped EIS protocol names a circuit, so the run fits it")
        let interface = try #require(fit.interface_Ohm_cm2)
        #expect(abs(interface - 21) < 0.05 * 21, "the K preset's 21 Ohm cm2 per interface; fitted \(interface)")
        #expect(fit.kramers_kronig_consistent)
        #expect(try store.impedanceFits(runID: started.id).count == 1)
        #expect(events.contains { $0.kind == .impedanceFitted && $0.message.contains("Ohm cm2") })
        await running.stop()
    }
}
