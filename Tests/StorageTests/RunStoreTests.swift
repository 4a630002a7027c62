import Domain
import Foundation
import Storage
import TestSupport
import Testing

@Suite("SQLite run store")
struct RunStoreTests {
    func makeStart(protocolText: String = "schema: 1\nname: t\n") -> RunStart {
        let cell = CellDescription(
            label: "cell-7", metal: .k, electrolyte: "K-beta''-alumina", electrodeArea_cm2: 0.196)
        let rig = RigDescription(
            id: "sim", name: "Sim", cell: cell, limits: HardwareLimits(voltage_V: 5, current_A: 0.02),
            galvanostat: .simulated(SimulatedCellConfiguration()))
        let plan = StepPlan(
            steps: [
                PlannedStep(
                    index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-5, currentDensity_mA_cm2: 0.05,
                    durationLimit_s: 10)
            ], area_cm2: 0.196)
        return RunStart(
            protocolName: "t", protocolFile: "t.yaml", protocolText: protocolText, protocolParameters: ["a": "1 s"],
            rig: rig, cell: cell, area_cm2: 0.196, plan: plan,
            instruments: [
                InstrumentIdentity(
                    role: "galvanostat", model: "Sim", firmware: "1", serialNumber: "S1", port: "in-process")
            ])
    }

    @Test("a run's start record, samples, steps and events are stored exactly")
    func roundTrip() throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let runID = try store.createRun(makeStart(), threeElectrode: true)
        let samples = (0..<5000).map { index in
            RecordedSample(
                seq: index,
                sample: InstrumentSample(
                    time_s: Double(index) * 0.1, current_A: -1e-5, voltage_V: -0.123456789012345 + Double(index) * 1e-9,
                    voltageWERE_V: index % 2 == 0 ? -0.06 : nil, pressure_MPa: 2.5, temperature_C: nil),
                stepIndex: 0, cycle: 1)
        }
        let verdict = Verdict(
            criterion: "voltage-drop", action: .stop, reason: "fell", time_s: 4, onsetTime_s: 3,
            currentDensity_mA_cm2: 4.8,
            evidence: ["drop_V": 0.002])
        try store.append(
            runID: runID, samples: samples,
            steps: [
                StepRecordRow(
                    index: 0, cycle: 1, kind: "plate", current_A: -1e-5, currentDensity_mA_cm2: 0.05, startTime_s: 0,
                    endTime_s: 499.9, endReason: "criterion", charge_C: 0.005)
            ],
            events: [(0, RunEvent(kind: .verdict, time_s: 4, message: "stop", stepIndex: 0, verdict: verdict))])
        try store.finishRun(
            runID, outcome: RunOutcome(state: .stopped, reason: "short", ccd_mA_cm2: 4.8, verdict: verdict))

        #expect(try store.sampleCount(runID: runID) == 5000)
        var readBack: [RecordedSample] = []
        try store.forEachSample(runID: runID) { readBack.append($0) }
        #expect(readBack == samples)
        let run = try #require(try store.run(id: runID))
        #expect(run.state == .stopped)
        #expect(run.ccd_mA_cm2 == 4.8)
        #expect(run.protocolSHA256 == SHA256.hex("schema: 1\nname: t\n"))
        #expect(run.protocolText == "schema: 1\nname: t\n")
        #expect(run.cellLabel == "cell-7")
        #expect(run.threeElectrode)
        #expect(run.softwareVersion == CellRigVersion.current)
        #expect(try store.events(runID: runID).first?.verdict == verdict)
        #expect(try store.steps(runID: runID).first?.endReason == "criterion")
        #expect(try store.instruments(runID: runID).first?.serialNumber == "S1")
    }

    @Test("a sample's (run, seq) is unique: a duplicate is refused, not silently merged")
    func uniqueSequence() throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let runID = try store.createRun(makeStart(), threeElectrode: false)
        let sample = RecordedSample(
            seq: 0, sample: InstrumentSample(time_s: 1, current_A: 0, voltage_V: 0), stepIndex: 0, cycle: 0)
        try store.append(runID: runID, samples: [sample], steps: [], events: [])
        #expect(throws: StorageError.self) { try store.append(runID: runID, samples: [sample], steps: [], events: []) }
        #expect(try store.sampleCount(runID: runID) == 1)
    }

    @Test("runs left running by a dead daemon are marked interrupted on the next start")
    func abandonedRuns() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let store = try RunStore(path: path)
        let running = try store.createRun(makeStart(), threeElectrode: false)
        try store.setState(.running, runID: running)
        let finished = try store.createRun(makeStart(), threeElectrode: false)
        try store.finishRun(finished, outcome: RunOutcome(state: .completed, reason: "done"))
        let reopened = try RunStore(path: path)
        #expect(try reopened.interruptAbandonedRuns(reason: "crash") == [running])
        #expect(try reopened.run(id: running)?.state == .interrupted)
        #expect(try reopened.run(id: finished)?.state == .completed)
    }

    @Test("a daemon that dies while it resumes a run leaves it to the next start, up to three starts in a row")
    func runsBeingResumedStayMarked() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let running = try RunStore(path: path).createRun(makeStart(), threeElectrode: false)
        try RunStore(path: path).setState(.running, runID: running)
        // Each start takes the run on and dies before it runs again (SIGKILL while reading its samples back).
        for start in 1...RunStore.resumeAttempts {
            let store = try RunStore(path: path)
            #expect(try store.interruptAbandonedRuns(reason: "crash") == [running], "start \(start) resumes it")
            #expect(try store.run(id: running)?.state == .interrupted)
        }
        let giveUp = try RunStore(path: path)
        #expect(try giveUp.interruptAbandonedRuns(reason: "crash") == [])
        let left = try giveUp.run(id: running)
        #expect(left?.state == .interrupted)
        #expect(
            left?.endReason?.contains("stopped 3 times in a row while resuming it") == true, "\(left?.endReason ?? "")")
        #expect(try RunStore(path: path).interruptAbandonedRuns(reason: "crash") == [], "the mark is gone")
    }

    @Test("a run resumed and reopened is abandoned afresh; reopening stores its restart event with it")
    func reopenedRunsStartCountingAgain() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let store = try RunStore(path: path)
        let runID = try store.createRun(makeStart(), threeElectrode: false)
        try store.setState(.running, runID: runID)
        for _ in 0..<(RunStore.resumeAttempts + 2) {
            #expect(try store.interruptAbandonedRuns(reason: "crash") == [runID])
            let restart = RunEvent(kind: .operatorCommand, time_s: 5, message: "the daemon restarted", stepIndex: 0)
            let seq = try store.eventCount(runID: runID)
            try store.reopenRun(runID, restartEvent: (seq, restart))
            #expect(try store.run(id: runID)?.state == .running)
            #expect(try store.events(runID: runID).last?.message == "the daemon restarted")
        }
        #expect(try store.eventCount(runID: runID) == RunStore.resumeAttempts + 2)
        try store.markInterrupted(runID, reason: "not resumed: the rig is gone")
        #expect(try store.interruptAbandonedRuns(reason: "crash") == [], "a run left interrupted on purpose stays so")
    }

    @Test("a run a shutdown interrupted is resumed by the next start; one that ended meanwhile is not")
    func shutdownMarks() throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let interrupted = try store.createRun(makeStart(), threeElectrode: false)
        let ended = try store.createRun(makeStart(), threeElectrode: false)
        for runID in [interrupted, ended] {
            try store.finishRun(runID, outcome: RunOutcome(state: .interrupted, reason: "the daemon shut down"))
        }
        try store.markForResumeOnStart([interrupted, ended])
        try store.finishRun(ended, outcome: RunOutcome(state: .completed, reason: "its end was journaled"))
        #expect(try store.interruptAbandonedRuns(reason: "crash") == [interrupted])
        #expect(try store.run(id: ended)?.state == .completed)
    }

    @Test("a read-only open of a missing database says which file")
    func missingDatabase() {
        let error = #expect(throws: StorageError.self) { try RunStore(readOnlyPath: "/nonexistent/cellrig.sqlite") }
        #expect(error?.description.contains("/nonexistent/cellrig.sqlite") == true)
    }

    @Test("a reader sees committed samples while the writer keeps writing")
    func readerDuringWrites() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let store = try RunStore(path: path)
        let runID = try store.createRun(makeStart(), threeElectrode: false)
        let reader = try RunStore(readOnlyPath: path)
        for batch in 0..<3 {
            let samples = (0..<100).map {
                RecordedSample(
                    seq: batch * 100 + $0, sample: InstrumentSample(time_s: Double($0), current_A: 0, voltage_V: 0),
                    stepIndex: 0, cycle: 0)
            }
            try store.append(runID: runID, samples: samples, steps: [], events: [])
            #expect(try reader.sampleCount(runID: runID) == (batch + 1) * 100)
        }
    }
}

@Suite("Sample quality in storage")
struct SampleQualityStorageTests {
    @Test("non-finite readings are stored as NULL with their flags and never fail a batch")
    func nonFiniteReadings() async throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let runID = try store.createRun(RunStoreTests().makeStart(), threeElectrode: true)
        let samples = [
            InstrumentSample(time_s: 1, current_A: -1e-5, voltage_V: 0.1),
            InstrumentSample(time_s: 2, current_A: -1e-5, voltage_V: .nan, voltageWERE_V: .infinity)
                .flaggingNonFiniteValues(),
            InstrumentSample(time_s: 3, current_A: .nan, voltage_V: 0.1, pressure_MPa: .nan, flags: [.overload])
                .flaggingNonFiniteValues(),
            InstrumentSample(time_s: 4, current_A: -1e-5, voltage_V: 0.1, flags: [.late, .pressureStale]),
        ].enumerated().map { RecordedSample(seq: $0.offset, sample: $0.element, stepIndex: 0, cycle: 1) }
        let outcome = try await store.append(RunRecordBatch(samples: samples), runID: runID)
        #expect(outcome.storedSamples == 4)
        #expect(outcome.rejected.isEmpty)
        var readBack: [RecordedSample] = []
        try store.forEachSample(runID: runID) { readBack.append($0) }
        #expect(readBack.count == 4)
        #expect(readBack[1].sample.voltage_V.isNaN && readBack[1].sample.voltageWERE_V == nil)
        #expect(readBack[1].sample.flags == [.nonFinite])
        #expect(readBack[2].sample.current_A.isNaN && readBack[2].sample.pressure_MPa == nil)
        #expect(readBack[2].sample.flags == [.overload, .nonFinite])
        #expect(readBack[3].sample.flags == [.late, .pressureStale])
        #expect(
            try store.flaggedSampleCounts(runID: runID)
                == ["non-finite": 2, "overload": 1, "late": 1, "pressure-stale": 1])
    }

    @Test("a row SQLite refuses costs only itself: the rest of its batch is stored, and the refusal says why")
    func refusedRowKeepsTheOthers() async throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let runID = try store.createRun(RunStoreTests().makeStart(), threeElectrode: false)
        func sample(_ seq: Int) -> RecordedSample {
            RecordedSample(
                seq: seq, sample: InstrumentSample(time_s: Double(seq), current_A: 0, voltage_V: 0), stepIndex: 0,
                cycle: 0)
        }
        _ = try await store.append(RunRecordBatch(samples: [sample(5)]), runID: runID)
        let outcome = try await store.append(
            RunRecordBatch(
                samples: (0..<10).map(sample), events: [(0, RunEvent(kind: .fault, time_s: 1, message: "x"))]),
            runID: runID)
        #expect(outcome.storedSamples == 9)
        #expect(outcome.rejected.map(\.key) == [5], "\(outcome.rejected)")
        #expect(outcome.rejected.first?.table == "samples")
        #expect(try store.sampleCount(runID: runID) == 10)
        #expect(try store.events(runID: runID).count == 1)
        // The refused batch leaves the fast path's statement usable: the next batch goes through in one transaction.
        let next = try await store.append(RunRecordBatch(samples: (10..<20).map(sample)), runID: runID)
        #expect(next.storedSamples == 10 && next.rejected.isEmpty)
        var seqs: [Int] = []
        try store.forEachSample(runID: runID) { seqs.append($0.seq) }
        #expect(seqs == Array(0..<20))
    }

    @Test("a full or read-only database names its cause in words first")
    func readOnlyCause() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let store = try RunStore(path: path)
        _ = try store.createRun(RunStoreTests().makeStart(), threeElectrode: false)
        let reader = try RunStore(readOnlyPath: path)
        let error = #expect(throws: StorageError.self) {
            try reader.append(
                runID: 1,
                samples: [
                    RecordedSample(
                        seq: 0, sample: InstrumentSample(time_s: 0, current_A: 0, voltage_V: 0), stepIndex: 0, cycle: 0)
                ],
                steps: [], events: [])
        }
        #expect(error?.cause == .readOnly)
        #expect(error?.description.hasPrefix("database is read-only") == true)
    }
}
