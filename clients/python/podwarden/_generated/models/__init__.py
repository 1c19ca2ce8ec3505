"""Contains all the data models used in inputs/outputs"""

from .attempt_view import AttemptView
from .audit_entry import AuditEntry
from .billing_check_view import BillingCheckView
from .cloud_choice import CloudChoice
from .compute_settings import ComputeSettings
from .cost_report import CostReport
from .deploy_result import DeployResult
from .early_stop import EarlyStop
from .endpoint_gpu import EndpointGpu
from .endpoint_spec import EndpointSpec
from .endpoint_spec_env import EndpointSpecEnv
from .endpoint_view import EndpointView
from .error_body import ErrorBody
from .estimate_view import EstimateView
from .event_view import EventView
from .exit_ import Exit
from .finetune_spec import FinetuneSpec
from .gpu_row import GpuRow
from .gpu_spec import GpuSpec
from .input_ import Input
from .invite_view import InviteView
from .job_detail import JobDetail
from .job_spec import JobSpec
from .job_spec_env import JobSpecEnv
from .job_summary import JobSummary
from .key_body import KeyBody
from .limits import Limits
from .list_metrics_response_200_item import ListMetricsResponse200Item
from .lora_spec import LoraSpec
from .new_invite import NewInvite
from .new_invite_code import NewInviteCode
from .new_token import NewToken
from .new_token_body import NewTokenBody
from .new_user import NewUser
from .new_volume import NewVolume
from .output import Output
from .policy import Policy
from .put_file_response_201 import PutFileResponse201
from .quantization import Quantization
from .reap_body import ReapBody
from .reap_strays_response_200 import ReapStraysResponse200
from .reconciliation import Reconciliation
from .redemption import Redemption
from .report_metrics_body import ReportMetricsBody
from .report_metrics_response_202 import ReportMetricsResponse202
from .retry_policy import RetryPolicy
from .serverless_job_spec import ServerlessJobSpec
from .serverless_job_view import ServerlessJobView
from .status import Status
from .stray_view import StrayView
from .task_status import TaskStatus
from .token_view import TokenView
from .transfer_report import TransferReport
from .user_update import UserUpdate
from .user_view import UserView
from .volume_s3 import VolumeS3
from .volume_view import VolumeView
from .webhook_body import WebhookBody
from .webhook_view import WebhookView
from .workers import Workers

__all__ = (
    "AttemptView",
    "AuditEntry",
    "BillingCheckView",
    "CloudChoice",
    "ComputeSettings",
    "CostReport",
    "DeployResult",
    "EarlyStop",
    "EndpointGpu",
    "EndpointSpec",
    "EndpointSpecEnv",
    "EndpointView",
    "ErrorBody",
    "EstimateView",
    "EventView",
    "Exit",
    "FinetuneSpec",
    "GpuRow",
    "GpuSpec",
    "Input",
    "InviteView",
    "JobDetail",
    "JobSpec",
    "JobSpecEnv",
    "JobSummary",
    "KeyBody",
    "Limits",
    "ListMetricsResponse200Item",
    "LoraSpec",
    "NewInvite",
    "NewInviteCode",
    "NewToken",
    "NewTokenBody",
    "NewUser",
    "NewVolume",
    "Output",
    "Policy",
    "PutFileResponse201",
    "Quantization",
    "ReapBody",
    "ReapStraysResponse200",
    "Reconciliation",
    "Redemption",
    "ReportMetricsBody",
    "ReportMetricsResponse202",
    "RetryPolicy",
    "ServerlessJobSpec",
    "ServerlessJobView",
    "Status",
    "StrayView",
    "TaskStatus",
    "TokenView",
    "TransferReport",
    "UserUpdate",
    "UserView",
    "VolumeS3",
    "VolumeView",
    "WebhookBody",
    "WebhookView",
    "Workers",
)
