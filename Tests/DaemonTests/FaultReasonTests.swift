import Control
import Domain
import Engine
import Foundation
import InstrumentDrivers
import Instruments
import Storage
import TestSupport
import Testing
import Transport
import WireSimulators

@testable import Daemon

@Suite("Fault reasons in words, bytes in the evidence")
struct FaultReasonTests {
    let timeout = InstrumentError(
        TransportError(.timeout, port: "/dev/pts/7", "no reply", sent: Array(":SYST:ERR?\r".utf8), received: []),
        instrument: "Keithley 2400 on /dev/pts/7")

    @Test("a reply timeout reads as the instrument not answering; the command is named, the bytes are not")
    func timeoutInWords() {
        #expect(
            FaultReason.instrumentFault(timeout)
                == "instrument fault: the Keithley 2400 on /dev/pts/7 did not answer (timeout)")
        let during = FaultReason.instrumentFault(timeout, during: .applyCurrent(-9.8e-5))
        #expect(
            during == "instrument fault: the Keithley 2400 on /dev/pts/7 did not answer (timeout) while applying -98 uA"
        )
        #expect(!during.contains("SYST") && !during.contains("sent"))
        #expect("\(timeout)".contains(#"sent ":SYST:ERR?\r""#), "the error itself keeps the bytes for the event")
    }

    @Test("each kind of failure has its sentence; a refusal quotes the instrument's words, cut when long")
    func everyKind() {
        let garbled = InstrumentError(
            TransportError(.garbled, port: "/dev/ttyACM0", "control characters", received: [0x07, 0x1B]),
            instrument: "MethodSCRIPT on /dev/ttyACM0")
        #expect(FaultReason.describe(garbled) == "the MethodSCRIPT on /dev/ttyACM0 sent replies that could not be read")
        let gone = InstrumentError(TransportError(.disconnected, port: "/dev/ttyACM0"), instrument: "MethodSCRIPT on x")
        #expect(FaultReason.describe(gone) == "the MethodSCRIPT on x is no longer connected (its port closed)")
        let refusal = InstrumentError(
            .rejected, instrument: "MethodSCRIPT on x",
            "the instrument stopped the script: 0x0032 critical cell overload, measurement aborted")
        #expect(FaultReason.describe(refusal).hasSuffix(": 0x0032 critical cell overload, measurement aborted"))
        let long = InstrumentError(.rejected, instrument: "K", String(repeating: "word ", count: 100))
        let cut = FaultReason.describe(long)
        #expect(cut.hasSuffix("...") && cut.count < FaultReason.longestQuote + 20)
        let pressure = PressureSensorFailure(underlying: timeout)
        #expect(
            FaultReason.describe(pressure)
                == "pressure sensor: the Keithley 2400 on /dev/pts/7 did not answer (timeout)")
        #expect(
            FaultReason.describe(TransportError(.busy, port: "/dev/ttyUSB0")).contains(
                "/dev/ttyUSB0 could not be opened"))
    }

    @Test("a Keithley that falls silent mid-run: the run's reason is one short sentence, the fault event has the bytes")
    func silentKeithleyRun() async throws {
        let keithley = Keithley2400Simulator(cell: testCell(seed: 3))
        let port = try SimulatedPort.start(FaultyLink(keithley, fault: .silence, afterReadings: 10))
        let rig = try DaemonConfiguration.loadRig(
            text: """
                schema: 1
                id: silent
                cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2, metal_thickness: 500 um}
                limits: {voltage: 5 V, current: 20 mA}
                galvanostat: {driver: keithley2400, port: \(port.path), reply_timeout: 10 s}

                """, file: "silent.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml", interval: "1 s"), file: "ccd-short.yaml",
            rig: "silent")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted")
        let reason = try #require(final.reason)
        #expect(reason.hasPrefix("instrument fault: the Keithley 2400 on "), "\(reason)")
        #expect(reason.contains("did not answer (timeout)"), "\(reason)")
        #expect(!reason.contains("sent \"") && !reason.contains("received"), "\(reason)")
        #expect(reason.count < 120, "\(reason)")
        let faults = try running.store.events(runID: started.id).filter { $0.kind == .fault }
        #expect(faults.contains { $0.message.contains("sent \"") && $0.message.contains("received \"") }, "\(faults)")
        await running.stop()
        await port.stop()
    }
}
