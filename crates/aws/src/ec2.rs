//! EC2: instance types (what a GPU offer is made of), and instances — launched with a script
//! and tags, listed by tag, terminated. API version 2016-11-15 (EC2's current Query version).

use crate::xml::Items;
use crate::{Client, Result, Service};
use serde::Deserialize;

const VERSION: &str = "2016-11-15";

/// An instance type's shape (`DescribeInstanceTypes`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstanceType {
    #[serde(rename = "instanceType")]
    pub name: String,
    #[serde(rename = "vCpuInfo")]
    pub vcpu: VCpuInfo,
    #[serde(rename = "memoryInfo")]
    pub memory: MemoryInfo,
    #[serde(rename = "gpuInfo", default)]
    pub gpu: Option<GpuInfo>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VCpuInfo {
    #[serde(rename = "defaultVCpus")]
    pub default_vcpus: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MemoryInfo {
    #[serde(rename = "sizeInMiB")]
    pub size_mib: u64,
}

/// The GPUs of an instance type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GpuInfo {
    #[serde(rename = "gpus", default)]
    pub gpus: Items<Gpu>,
    #[serde(rename = "totalGpuMemoryInMiB", default)]
    pub total_memory_mib: u64,
}

/// One kind of GPU in an instance type, and how many.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Gpu {
    /// `A10G`, `H100`, …
    pub name: String,
    pub manufacturer: String,
    pub count: u32,
    #[serde(rename = "memoryInfo")]
    pub memory: MemoryInfo,
}

/// An instance's state (`pending`, `running`, `shutting-down`, `terminated`, `stopping`,
/// `stopped`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstanceState {
    pub code: i64,
    pub name: String,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Placement {
    #[serde(rename = "availabilityZone", default)]
    pub availability_zone: String,
}

/// An instance, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Instance {
    #[serde(rename = "instanceId")]
    pub id: String,
    #[serde(rename = "instanceType")]
    pub instance_type: String,
    #[serde(rename = "imageId", default)]
    pub image_id: String,
    #[serde(rename = "instanceState")]
    pub state: InstanceState,
    /// ISO 8601.
    #[serde(rename = "launchTime", default)]
    pub launch_time: String,
    #[serde(default)]
    pub placement: Option<Placement>,
    #[serde(rename = "privateIpAddress", default)]
    pub private_ip: Option<String>,
    #[serde(rename = "ipAddress", default)]
    pub public_ip: Option<String>,
    #[serde(rename = "tagSet", default)]
    pub tags: Items<Tag>,
}

impl Instance {
    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.item.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }

    /// Gone for good (terminated) or on its way (shutting down): it bills no more.
    pub fn is_ending(&self) -> bool {
        matches!(self.state.name.as_str(), "shutting-down" | "terminated")
    }
}

/// What to launch (`RunInstances`, one instance).
#[derive(Debug, Clone, Default)]
pub struct RunInstance {
    pub image_id: String,
    pub instance_type: String,
    /// The script the instance runs at first boot (sent base64-encoded).
    pub user_data: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `terminate`: an instance that shuts itself down is gone, and bills no more.
    pub shutdown_terminates: bool,
    /// A zone to launch in (`us-east-1a`); AWS chooses when `None`.
    pub availability_zone: Option<String>,
    /// Idempotency: a retried launch with the same token launches nothing new (on AWS).
    pub client_token: Option<String>,
    /// The root volume: its device name (the AMI's `RootDeviceName`) and size in GiB, deleted
    /// with the instance.
    pub root_volume: Option<(String, i64)>,
    /// The subnet (and so the VPC and zone) to launch in; the default VPC's when `None`.
    pub subnet_id: Option<String>,
    /// Security groups; the VPC's default group when empty.
    pub security_group_ids: Vec<String>,
    /// An EC2 key pair for SSH; none when `None`.
    pub key_name: Option<String>,
    /// The instance profile (name) whose role the instance's programs act as.
    pub instance_profile: Option<String>,
    /// The metadata service for the host alone: IMDSv2 tokens required, with a hop limit of 1
    /// (a container on Docker's bridge is a hop further and gets none).
    pub metadata_host_only: bool,
}

#[derive(Deserialize)]
struct Reservation {
    #[serde(rename = "instancesSet", default)]
    instances: Items<Instance>,
}

#[derive(Deserialize)]
struct DescribeInstances {
    #[serde(rename = "reservationSet", default)]
    reservations: Items<Reservation>,
    #[serde(rename = "nextToken", default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct RunInstances {
    #[serde(rename = "instancesSet", default)]
    instances: Items<Instance>,
}

#[derive(Deserialize)]
struct DescribeInstanceTypes {
    #[serde(rename = "instanceTypeSet", default)]
    types: Items<InstanceType>,
    #[serde(rename = "nextToken", default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct Offering {
    #[serde(rename = "instanceType")]
    instance_type: String,
    location: String,
}

#[derive(Deserialize)]
struct DescribeInstanceTypeOfferings {
    #[serde(rename = "instanceTypeOfferingSet", default)]
    offerings: Items<Offering>,
    #[serde(rename = "nextToken", default)]
    next_token: Option<String>,
}

impl Page for DescribeInstanceTypeOfferings {
    fn next_token(&mut self) -> Option<String> {
        self.next_token.take()
    }
}

/// An answer that may continue on another page.
trait Page: serde::de::DeserializeOwned {
    fn next_token(&mut self) -> Option<String>;
}

impl Page for DescribeInstances {
    fn next_token(&mut self) -> Option<String> {
        self.next_token.take()
    }
}

impl Page for DescribeInstanceTypes {
    fn next_token(&mut self) -> Option<String> {
        self.next_token.take()
    }
}

impl Client {
    /// The shapes of `names` (an unknown name is AWS's `InvalidInstanceType`).
    pub async fn describe_instance_types(&self, names: &[&str]) -> Result<Vec<InstanceType>> {
        let mut out = Vec::new();
        // AWS takes at most 100 names per call.
        for chunk in names.chunks(100) {
            let params: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("InstanceType.{}", i + 1), (*n).to_owned()))
                .collect();
            let pages: Vec<DescribeInstanceTypes> =
                self.pages("DescribeInstanceTypes", &params).await?;
            out.extend(pages.into_iter().flat_map(|p| p.types.item));
        }
        Ok(out)
    }

    /// The availability zones of this region that offer each of `names`, as `(type, zone)`
    /// (`DescribeInstanceTypeOfferings` by zone): a type not offered in a zone cannot launch
    /// there.
    pub async fn instance_type_zones(&self, names: &[&str]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let mut params: Vec<(String, String)> = vec![
                ("LocationType".into(), "availability-zone".into()),
                ("Filter.1.Name".into(), "instance-type".into()),
            ];
            params.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("Filter.1.Value.{}", i + 1), (*n).to_owned())),
            );
            let pages: Vec<DescribeInstanceTypeOfferings> =
                self.pages("DescribeInstanceTypeOfferings", &params).await?;
            out.extend(
                pages
                    .into_iter()
                    .flat_map(|p| p.offerings.item)
                    .map(|o| (o.instance_type, o.location)),
            );
        }
        Ok(out)
    }

    /// What instance `id` wrote to its serial console, newest output (`Latest`), decoded;
    /// `None` while it has written nothing. AWS keeps the last 64 KiB.
    pub async fn console_output(&self, id: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Console {
            #[serde(default)]
            output: Option<String>,
        }
        let p = vec![("InstanceId".to_owned(), id.to_owned()), ("Latest".into(), "true".into())];
        let action = "GetConsoleOutput";
        let text = self.query(Service::Ec2, action, VERSION, &p).await?;
        let c: Console = crate::xml::parse(Service::Ec2, action, &text)?;
        let Some(encoded) = c.output.filter(|v| !v.trim().is_empty()) else { return Ok(None) };
        decode_base64(action, &encoded).map(Some)
    }

    /// Launches one instance; the instance as AWS first reports it.
    pub async fn run_instance(&self, r: &RunInstance) -> Result<Instance> {
        let mut p: Vec<(String, String)> = vec![
            ("ImageId".into(), r.image_id.clone()),
            ("InstanceType".into(), r.instance_type.clone()),
            ("MinCount".into(), "1".into()),
            ("MaxCount".into(), "1".into()),
        ];
        if let Some(u) = &r.user_data {
            p.push(("UserData".into(), base64(u.as_bytes())));
        }
        if r.shutdown_terminates {
            p.push(("InstanceInitiatedShutdownBehavior".into(), "terminate".into()));
        }
        if let Some(z) = &r.availability_zone {
            p.push(("Placement.AvailabilityZone".into(), z.clone()));
        }
        if let Some(t) = &r.client_token {
            p.push(("ClientToken".into(), t.clone()));
        }
        if let Some((device, gb)) = &r.root_volume {
            p.push(("BlockDeviceMapping.1.DeviceName".into(), device.clone()));
            p.push(("BlockDeviceMapping.1.Ebs.VolumeSize".into(), gb.to_string()));
            p.push(("BlockDeviceMapping.1.Ebs.DeleteOnTermination".into(), "true".into()));
        }
        if let Some(s) = &r.subnet_id {
            p.push(("SubnetId".into(), s.clone()));
        }
        for (i, g) in r.security_group_ids.iter().enumerate() {
            p.push((format!("SecurityGroupId.{}", i + 1), g.clone()));
        }
        if let Some(k) = &r.key_name {
            p.push(("KeyName".into(), k.clone()));
        }
        if let Some(n) = &r.instance_profile {
            p.push(("IamInstanceProfile.Name".into(), n.clone()));
        }
        if r.metadata_host_only {
            p.push(("MetadataOptions.HttpTokens".into(), "required".into()));
            p.push(("MetadataOptions.HttpPutResponseHopLimit".into(), "1".into()));
            p.push(("MetadataOptions.HttpEndpoint".into(), "enabled".into()));
        }
        if !r.tags.is_empty() {
            // The instance and its volumes carry the tags (a reaper finds both).
            for (n, kind) in ["instance", "volume"].iter().enumerate() {
                let spec = format!("TagSpecification.{}", n + 1);
                p.push((format!("{spec}.ResourceType"), (*kind).into()));
                for (i, (k, v)) in r.tags.iter().enumerate() {
                    p.push((format!("{spec}.Tag.{}.Key", i + 1), k.clone()));
                    p.push((format!("{spec}.Tag.{}.Value", i + 1), v.clone()));
                }
            }
        }
        let text = self.query(Service::Ec2, "RunInstances", VERSION, &p).await?;
        let out: RunInstances = crate::xml::parse(Service::Ec2, "RunInstances", &text)?;
        out.instances.item.into_iter().next().ok_or_else(|| crate::Error::Undecodable {
            service: "ec2",
            action: "RunInstances".into(),
            detail: "no instance in the answer".into(),
        })
    }

    /// Every instance with tag `key` = `value` (every state; `terminated` ones linger in AWS's
    /// lists for about an hour), all pages.
    pub async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<Instance>> {
        let params: Vec<(String, String)> = vec![
            ("Filter.1.Name".into(), format!("tag:{key}")),
            ("Filter.1.Value.1".into(), value.to_owned()),
            ("MaxResults".into(), "1000".into()),
        ];
        let pages: Vec<DescribeInstances> = self.pages("DescribeInstances", &params).await?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.reservations.item)
            .flat_map(|r| r.instances.item)
            .collect())
    }

    /// Every page of EC2's `action` with `params`, following `nextToken`.
    async fn pages<P: Page>(&self, action: &str, params: &[(String, String)]) -> Result<Vec<P>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut p = params.to_vec();
            if let Some(t) = token.take() {
                p.push(("NextToken".into(), t));
            }
            let text = self.query(Service::Ec2, action, VERSION, &p).await?;
            let mut page: P = crate::xml::parse(Service::Ec2, action, &text)?;
            token = page.next_token().filter(|t| !t.is_empty());
            out.push(page);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The script instance `id` was launched with (`None` without one), as EC2 keeps it.
    pub async fn user_data(&self, id: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Value {
            #[serde(default)]
            value: Option<String>,
        }
        #[derive(Deserialize)]
        struct Attribute {
            #[serde(rename = "userData", default)]
            user_data: Option<Value>,
        }
        let p =
            vec![("InstanceId".to_owned(), id.to_owned()), ("Attribute".into(), "userData".into())];
        let action = "DescribeInstanceAttribute";
        let text = self.query(Service::Ec2, action, VERSION, &p).await?;
        let a: Attribute = crate::xml::parse(Service::Ec2, action, &text)?;
        let Some(encoded) = a.user_data.and_then(|v| v.value).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        decode_base64(action, &encoded).map(Some)
    }

    /// Terminates `id`; `Ok` when it is terminated or on its way (an unknown id is AWS's
    /// `InvalidInstanceID.NotFound`).
    pub async fn terminate_instance(&self, id: &str) -> Result<()> {
        let p = vec![("InstanceId.1".to_owned(), id.to_owned())];
        self.query(Service::Ec2, "TerminateInstances", VERSION, &p).await?;
        Ok(())
    }
}

/// Text EC2 sent base64-encoded (user data, console output).
fn decode_base64(action: &str, encoded: &str) -> Result<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|e| {
        crate::Error::Undecodable {
            service: "ec2",
            action: action.into(),
            detail: format!("base64: {e}"),
        }
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Standard base64 (user data travels so).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
