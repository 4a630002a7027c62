import Domain
import Instruments

/// A failed exchange with the temperature controller; says which instrument failed and keeps the driver's error.
struct TemperatureControllerFailure: Error, Sendable, CustomStringConvertible {
    var underlying: any Error

    var description: String { "temperature controller: \(underlying)" }
}

extension SerialRigInstruments {
    /// The rig's temperature controller: the driver, its port, and the rig file's entry.
    struct TemperatureControl: Sendable {
        let controller: any TemperatureController
        let port: InstrumentFactory.OpenedPort
        let configuration: TemperatureControllerConfiguration
    }

    /// Whether the rig has a temperature controller (a `set_temperature` step needs one).
    nonisolated var controlsTemperature: Bool { temperature != nil }

    /// The controller's identity, with the port as the rig file names it; nil without a controller.
    func temperatureIdentity() async throws -> InstrumentIdentity? {
        guard let temperature else { return nil }
        var identity: InstrumentIdentity
        do {
            identity = try await temperature.controller.identify()
        } catch {
            throw TemperatureControllerFailure(underlying: error)
        }
        identity.role = "temperature"
        identity.port = temperature.port.recordedName
        return identity
    }

    /// Reads the controller once at the run's start: one that does not answer refuses the run.
    func checkTemperatureController() async throws {
        lastTemperatureReading = nil
        lastTemperatureAttempt = nil
        guard let temperature else { return }
        do {
            _ = try await temperature.controller.readTemperature_C()
        } catch {
            throw TemperatureControllerFailure(underlying: error)
        }
    }

    /// Writes the setpoint and enables the controller's output (a `set_temperature` step).
    func setTemperature(_ setpoint_C: Double) async throws {
        guard let temperature else {
            throw InstrumentError(
                .rejected, instrument: "rig", "the rig has no temperature controller (temperature_controller:)")
        }
        try await temperature.controller.setSetpoint(setpoint_C)
    }

    /// What the rig's `at_run_end` says: `output-off` switches the heater off; `keep` leaves it as the run left it.
    func finishTemperatureControl() async throws {
        guard let temperature, temperature.configuration.atRunEnd == .outputOff else { return }
        do {
            try await temperature.controller.disableOutput()
        } catch {
            throw TemperatureControllerFailure(underlying: error)
        }
    }

    /// `sample` with the temperature, reading the controller when its reading interval has passed (in cell time)
    /// since the last attempt. Throws only when the controller's port went away.
    func withTemperature(_ sample: InstrumentSample) async throws -> InstrumentSample {
        guard let temperature else { return sample }
        let interval = temperature.configuration.readingInterval_s
        let due =
            lastTemperatureAttempt.map { sample.time_s - $0.time_s >= interval || sample.time_s < $0.time_s } ?? true
        if due {
            do {
                let reading = try await temperature.controller.readTemperature_C()
                lastTemperatureReading = (sample.time_s, reading)
                lastTemperatureAttempt = (sample.time_s, false)
            } catch let error as InstrumentError where error.code == .disconnected {
                throw InstrumentUnavailable(description: "temperature controller: \(error)")
            } catch {
                lastTemperatureAttempt = (sample.time_s, true)
            }
        }
        return withLatestTemperature(sample)
    }

    /// `sample` with the latest temperature and its flags: stale when the latest attempt failed, missing without one.
    func withLatestTemperature(_ sample: InstrumentSample) -> InstrumentSample {
        var sample = sample
        guard temperature != nil else { return sample }
        guard let reading = lastTemperatureReading else {
            sample.flags.insert(.temperatureMissing)
            return sample
        }
        sample.temperature_C = reading.temperature_C
        if lastTemperatureAttempt?.failed == true { sample.flags.insert(.temperatureStale) }
        return sample
    }
}
